"""Fine-tune the bi-encoder (the embedding model) on labelled (query, document) pairs, with in-batch
and mined hard negatives; then re-index a collection with it in one command.

    python -m training.embedding_finetune --data ../shared/data/cranfield --split dev --out out/embeddings/cranfield-tuned
    python -m training.embedding_finetune reindex --collection handbook --embeddings hf:out/embeddings/cranfield-tuned
    python -m apps.ask --embeddings hf:out/embeddings/cranfield-tuned ...

`--data` takes the same formats as `training.reranker` (BEIR folder, pairs JSONL, documents to mine
pairs from; see `training.retrieval_pairs`). Loss: MultipleNegativesRankingLoss (Henderson et al.
2017), the softmax over a batch: each query must pick its positive among the batch's positives and
the batch's hard negatives (one mined per example: a document BM25 + dense rank high that is not
judged relevant). A document judged relevant to the query is masked out when it shows up as
another example's positive, so a query with several relevant documents is never taught that they
are wrong. Graded labels pick the positive: higher grades are drawn more often.

The index records which model made its vectors (`rag.knowledge_base.KnowledgeBase.embedding_model`):
after fine-tuning, the old vectors no longer match the new query vectors, and a knowledge base
opened with a different embeddings spec is refused with the reindex command as the fix. `reindex`
re-embeds every stored chunk with the new model and records it.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

import models  # noqa: F401  (offline switches before any hub library loads)
from training.optim_step import add_number_options, adamw_with_warmup, take_step
from training.retrieval_pairs import LabelledPairs, first_stage_retriever, load_pairs, mine_hard_negatives

REPO_ROOT = Path(__file__).resolve().parents[1]
META_FILE = "finetune.json"


@dataclass
class FinetuneConfig:
    data: str
    split: str = "dev"
    out: str = ""                 # default out/embeddings/<data name>-tuned
    base: str = "local"           # 'local' (bundled MiniLM) or hf:FOLDER
    epochs: int = 2
    max_steps: int = 0            # 0 = no limit
    max_minutes: float = 15.0     # wall-clock budget for the optimisation (0 = no limit)
    batch_size: int = 16
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    max_seq_length: int = 160     # tokens while training (serving keeps the model's own length)
    scale: float = 20.0           # similarity scale of the softmax
    negatives_mined: int = 8
    mining_depth: int = 50
    seed: int = 13
    threads: int = 0
    mlruns: str = ""              # MLflow store folder; default $HEARTH_HOME/mlflow; "off" = no logging
    queries_only: bool = False    # tune only the query side against the base model's fixed document vectors

    def resolved_out(self) -> Path:
        if self.out:
            return Path(self.out)
        source = Path(self.data)
        return REPO_ROOT / "out" / "embeddings" / f"{source.stem if source.is_file() else source.name}-tuned"


def training_examples(pairs: LabelledPairs, negatives: dict[str, list[str]], rng: random.Random
                      ) -> list[tuple[str, str, str | None]]:
    """(query id, positive doc id, hard negative doc id or None), one per relevant judgement, in a
    shuffled order; the negative is drawn from the query's mined negatives."""
    examples = []
    for qid, doc, _grade in pairs.positives():
        pool = negatives.get(qid, [])
        examples.append((qid, doc, rng.choice(pool) if pool else None))
    rng.shuffle(examples)
    return examples


def finetune_embeddings(config: FinetuneConfig, pairs: LabelledPairs | None = None, first_stage=None,
                        progress=None, show_bar: bool = True, document_vectors: dict | None = None) -> Path:
    """Fine-tune and save a sentence-transformers folder; returns it (load with `hf:FOLDER`).
    `config.queries_only`: see `finetune_query_side` (`document_vectors`: doc id -> base-model vector)."""
    if config.queries_only:
        return finetune_query_side(config, pairs, document_vectors, progress, show_bar)
    import torch
    import torch.nn.functional as F
    from sentence_transformers import SentenceTransformer

    from training.embedding_adapt import sentence_transformer_folder
    from training.reranker import log_mlflow_run, plot_losses

    started = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    report = progress or (lambda fraction, message: None)
    report(0.0, "reading pairs")
    pairs = pairs if pairs is not None else load_pairs(config.data, config.split)
    report(0.02, "mining hard negatives")
    first_stage = first_stage if first_stage is not None else first_stage_retriever(pairs.documents, config.base)
    negatives = mine_hard_negatives(pairs, first_stage, per_query=config.negatives_mined, depth=config.mining_depth,
                                    seed=config.seed)
    if not pairs.positives():
        raise ValueError(f"No relevant (query, document) pair in {config.data} to learn from.")
    mining_seconds = time.perf_counter() - started

    folder = sentence_transformer_folder(config.base)
    model = SentenceTransformer(folder, device="cpu", local_files_only=True)
    serving_length = model.max_seq_length
    model.max_seq_length = config.max_seq_length
    model.train()

    per_epoch = math.ceil(len(pairs.positives()) / config.batch_size)
    total = per_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    optimizer, schedule = adamw_with_warmup(model, config.lr, total, config.warmup_ratio)

    def encode(texts: list[str]):
        return F.normalize(model(model.tokenize(texts))["sentence_embedding"], dim=-1)

    losses: list[float] = []
    budget = config.max_minutes * 60 if config.max_minutes else math.inf
    stopped_by = "max steps" if config.max_steps and total == config.max_steps else "epochs"
    train_started = time.perf_counter()
    bar = tqdm(total=total, desc="fine-tuning embeddings", unit="step", file=sys.stderr, disable=not show_bar)
    while len(losses) < total and stopped_by != "time budget":
        examples = training_examples(pairs, negatives, rng)
        for first in range(0, len(examples), config.batch_size):
            if len(losses) >= total:
                break
            if time.perf_counter() - train_started > budget:
                stopped_by = "time budget"
                break
            batch = examples[first:first + config.batch_size]
            if len(batch) < 2:
                continue
            candidates = list(dict.fromkeys([d for _, d, _ in batch] + [n for _, _, n in batch if n]))
            queries = encode([pairs.queries[q] for q, _, _ in batch])
            documents = encode([pairs.documents[d] for d in candidates])
            scores = config.scale * queries @ documents.T
            # a candidate relevant to this query (other than its own positive) is not a negative
            column = {d: i for i, d in enumerate(candidates)}
            mask = torch.zeros_like(scores, dtype=torch.bool)
            for row, (qid, positive, _) in enumerate(batch):
                for doc, grade in pairs.qrels.get(qid, {}).items():
                    if grade > 0 and doc != positive and doc in column:
                        mask[row, column[doc]] = True
            scores = scores.masked_fill(mask, float("-inf"))
            labels = torch.tensor([column[d] for _, d, _ in batch])
            loss = F.cross_entropy(scores, labels)
            take_step(loss, model, optimizer, schedule, losses=losses, bar=bar, report=report, total=total)
    bar.close()
    train_seconds = time.perf_counter() - train_started

    out = config.resolved_out()
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.max_seq_length = serving_length
    model.save(str(out))
    meta = {"config": asdict(config), "base_folder": folder, "data_source": pairs.source,
            "data_fingerprint": pairs.fingerprint(), "trained_query_ids": sorted(pairs.queries),
            "examples": len(pairs.positives()), "steps": len(losses), "stopped_by": stopped_by,
            "mining_seconds": round(mining_seconds, 1), "train_seconds": round(train_seconds, 1),
            "seconds": round(time.perf_counter() - started, 1), "losses": [round(x, 4) for x in losses]}
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    plot_losses(losses, out / "loss.png", "bi-encoder fine-tuning")
    log_mlflow_run(config.mlruns, "embedding-finetune", meta, out, artifacts=[out / "loss.png", out / META_FILE])
    report(1.0, f"saved to {out}")
    return out


def finetune_query_side(config: FinetuneConfig, pairs: LabelledPairs | None = None, document_vectors: dict | None = None,
                        progress=None, show_bar: bool = True) -> Path:
    """Tune only the query encoder; the documents keep the base model's vectors, so nothing is
    re-indexed. Each step scores a batch of queries against every document of the collection and
    pulls the softmax towards the query's judged documents in proportion to 2^grade - 1: the whole
    collection is the negative set, so no mining is needed. Cheap on a CPU: queries are short and
    the document vectors are computed once."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from sentence_transformers import SentenceTransformer

    from models.static_query import model_fingerprint
    from training.embedding_adapt import sentence_transformer_folder
    from training.reranker import log_mlflow_run, plot_losses

    started = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    report = progress or (lambda fraction, message: None)
    pairs = pairs if pairs is not None else load_pairs(config.data, config.split)
    folder = sentence_transformer_folder(config.base)
    model = SentenceTransformer(folder, device="cpu", local_files_only=True)
    ids = list(pairs.documents)
    if document_vectors is None:
        report(0.0, "embedding the documents with the base model")
        document_vectors = dict(zip(ids, model.encode([pairs.documents[i] for i in ids], batch_size=32,
                                                      normalize_embeddings=True, show_progress_bar=show_bar)))
    documents = torch.tensor(np.asarray([document_vectors[i] for i in ids], dtype=np.float32))
    documents = F.normalize(documents, dim=-1)
    column = {d: i for i, d in enumerate(ids)}
    queries = [q for q in pairs.queries if any(g > 0 and d in column for d, g in pairs.qrels.get(q, {}).items())]
    if not queries:
        raise ValueError(f"No relevant (query, document) pair in {config.data} to learn from.")
    targets = torch.zeros(len(queries), len(ids))
    for row, qid in enumerate(queries):
        for doc, grade in pairs.qrels[qid].items():
            if grade > 0 and doc in column:
                targets[row, column[doc]] = 2.0 ** grade - 1
    targets = targets / targets.sum(dim=1, keepdim=True)
    model.train()

    per_epoch = math.ceil(len(queries) / config.batch_size)
    total = per_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    optimizer, schedule = adamw_with_warmup(model, config.lr, total, config.warmup_ratio)
    losses: list[float] = []
    budget = config.max_minutes * 60 if config.max_minutes else math.inf
    stopped_by = "max steps" if config.max_steps and total == config.max_steps else "epochs"
    train_started = time.perf_counter()
    bar = tqdm(total=total, desc="tuning the query encoder", unit="step", file=sys.stderr, disable=not show_bar)
    while len(losses) < total and stopped_by != "time budget":
        order = list(range(len(queries)))
        rng.shuffle(order)
        for first in range(0, len(order), config.batch_size):
            if len(losses) >= total:
                break
            if time.perf_counter() - train_started > budget:
                stopped_by = "time budget"
                break
            rows = order[first:first + config.batch_size]
            encoded = F.normalize(model(model.tokenize([pairs.queries[queries[r]] for r in rows]))["sentence_embedding"],
                                  dim=-1)
            log_probs = F.log_softmax(config.scale * encoded @ documents.T, dim=-1)
            loss = -(targets[rows] * log_probs).sum(dim=-1).mean()
            take_step(loss, model, optimizer, schedule, losses=losses, bar=bar, report=report, total=total)
    bar.close()
    out = config.resolved_out()
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save(str(out))
    meta = {"config": asdict(config), "base_folder": folder, "queries_only": True,
            "document_model_fingerprint": model_fingerprint(folder), "data_source": pairs.source,
            "data_fingerprint": pairs.fingerprint(), "trained_query_ids": sorted(pairs.queries),
            "examples": len(queries), "steps": len(losses), "stopped_by": stopped_by, "mining_seconds": 0.0,
            "train_seconds": round(time.perf_counter() - train_started, 1),
            "seconds": round(time.perf_counter() - started, 1), "losses": [round(x, 4) for x in losses]}
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    plot_losses(losses, out / "loss.png", "query-side fine-tuning")
    log_mlflow_run(config.mlruns, "embedding-finetune", meta, out, artifacts=[out / "loss.png", out / META_FILE])
    return out


class QueryTunedEmbeddings:
    """Documents through `documents` (the base model, whose vectors the index keeps), queries through
    the query encoder `finetune_query_side` saved at `query_folder`; refused when that encoder was
    tuned against another document model."""

    def __init__(self, documents, query_folder: str | Path):
        from models.embeddings import SentenceTransformerEmbeddings
        from models.static_query import model_fingerprint

        meta = json.loads((Path(query_folder) / META_FILE).read_text())
        folder = getattr(documents, "folder", None)
        if not meta.get("queries_only"):
            raise ValueError(f"{query_folder} is a whole fine-tuned model: use it as hf:{query_folder} and re-index.")
        if folder and model_fingerprint(folder) != meta["document_model_fingerprint"]:
            raise ValueError(f"The query encoder at {query_folder} was tuned against another document model than "
                             f"{folder}; tune one against this model (`--base hf:{folder} --queries-only`).")
        self.documents, self.queries = documents, SentenceTransformerEmbeddings(folder=str(query_folder))
        self.dimension = getattr(documents, "dimension", None)

    def embed_documents(self, texts: list[str], **kwargs) -> list[list[float]]:
        return self.documents.embed_documents(texts, **kwargs)

    def embed_query(self, text: str) -> list[float]:
        return self.queries.embed_query(text)


def reindex(collection: str, embeddings: str, location: str | None = None, batch_size: int = 64,
            show_bar: bool = True) -> int:
    """Re-embed every chunk of `collection` with `embeddings` (same chunk ids, so each vector is
    replaced in place) and record that model on the index. Returns the number of chunks."""
    from rag.knowledge_base import KnowledgeBase

    kb = KnowledgeBase(collection=collection, location=location, embeddings=embeddings)
    chunks = list(kb.store.iter_chunks())
    if not chunks:
        raise ValueError(f"Collection {collection!r} at {kb.location} is empty: nothing to re-index.")
    bar = tqdm(total=len(chunks), desc=f"re-indexing {collection}", unit="chunk", file=sys.stderr, disable=not show_bar)
    for first in range(0, len(chunks), batch_size):
        batch = chunks[first:first + batch_size]
        vectors = kb.embeddings.embed_documents([c.text for c in batch])
        by_hash: dict[str, list] = {}  # the point id derives from source, content hash and chunk index
        for chunk, vector in zip(batch, vectors):
            by_hash.setdefault(chunk.metadata.get("content_hash", ""), []).append((chunk, vector))
        for content_hash, items in by_hash.items():
            kb.store.upsert_chunks([c for c, _ in items], [v for _, v in items], content_hash=content_hash)
        bar.update(len(batch))
    bar.close()
    kb.record_embedding_model()
    return len(chunks)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["reindex"]:
        parser = argparse.ArgumentParser(prog="python -m training.embedding_finetune reindex",
                                         description="Re-embed a collection with another embedding model.")
        parser.add_argument("--collection", required=True)
        parser.add_argument("--embeddings", required=True, help="the new model's spec, e.g. hf:out/embeddings/x-tuned")
        parser.add_argument("--index-dir", default=None, help="Qdrant folder or URL (default: the project's index)")
        args = parser.parse_args(argv[1:])
        try:
            count = reindex(args.collection, args.embeddings, args.index_dir)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"Re-indexed {count} chunks of {args.collection!r} with {args.embeddings}.")
        return 0
    parser = argparse.ArgumentParser(prog="python -m training.embedding_finetune", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="BEIR folder, pairs JSONL, or documents to mine pairs from")
    parser.add_argument("--split", default=FinetuneConfig.split)
    parser.add_argument("--out", default="", help="output folder (default out/embeddings/<data name>-tuned)")
    parser.add_argument("--base", default=FinetuneConfig.base)
    parser.add_argument("--mlruns", default=FinetuneConfig.mlruns)
    add_number_options(parser, FinetuneConfig, floats=("max_minutes", "lr", "scale"),
                       ints=("epochs", "max_steps", "batch_size", "max_seq_length", "negatives_mined", "mining_depth",
                             "seed", "threads"))
    parser.add_argument("--queries-only", action="store_true",
                        help="tune only the query side against the base model's document vectors (no re-index)")
    config = FinetuneConfig(**vars(parser.parse_args(argv)))
    try:
        out = finetune_embeddings(config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    meta = json.loads((out / META_FILE).read_text())
    print(f"Fine-tuned model saved to {out} ({meta['steps']} steps, {meta['seconds']:.0f} s). Re-index with:\n"
          f"  python -m training.embedding_finetune reindex --collection NAME --embeddings hf:{out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
