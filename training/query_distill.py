"""Distil a sentence-transformers model into a static query encoder for one collection.

The student (`models.static_query.StaticQueryEncoder`) holds one vector and one weight per
token. It starts from the teacher's own embedding of each token alone, then learns, on short
texts cut from the collection (titles, sentences, word windows about as long as a query), to
land where the teacher puts the same text (cosine loss). Queries then cost a tokenizer call and
a weighted sum; documents keep the teacher's vectors.

    python -m training.query_distill --corpus ../shared/data/cranfield/corpus.jsonl --out out/query_encoders/cranfield
    python -m training.query_distill --corpus data/handbook --teacher hf:out/embeddings/handbook

Use it with the embeddings spec `TEACHER?query_encoder=FOLDER`, e.g.
`local?query_encoder=out/query_encoders/cranfield`; the index keeps its document vectors.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.embedding_adapt import default_output, read_documents, sentence_transformer_folder

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class DistillConfig:
    corpus: str
    out: str = ""                # default out/query_encoders/<corpus name>
    teacher: str = "local"       # 'local' (bundled MiniLM) or hf:FOLDER (e.g. an adapted model)
    epochs: int = 8
    batch_size: int = 128
    lr: float = 2e-3
    windows_per_doc: int = 4     # random 4-20 word spans per document, query-sized
    max_texts: int = 20_000
    full_vocabulary: bool = True  # False: only tokens of the collection get vectors (faster; unseen query words count for nothing)
    seed: int = 13

    def resolved_out(self) -> Path:
        return Path(self.out) if self.out else default_output(self.corpus, "query_encoders")


def training_texts(documents: list[tuple[str, str]], windows_per_doc: int = 4, max_texts: int = 20_000,
                   seed: int = 13) -> list[str]:
    """Query-sized texts from the collection: titles, sentences and random word windows.

    >>> texts = training_texts([("Wing flutter", "Flutter of thin wings was measured. It grows with speed.")], 1, seed=0)
    >>> {'Wing flutter', 'Flutter of thin wings was measured.', 'It grows with speed.'} <= set(texts)
    True
    >>> len(texts)  # and one random word window
    4
    """
    rng = random.Random(seed)
    texts: list[str] = []
    for title, body in documents:
        if title:
            texts.append(title)
        texts += [s for s in (s.strip() for s in _SENTENCE_END.split(body)) if len(s.split()) >= 3]
        words = body.split()
        for _ in range(windows_per_doc if len(words) >= 8 else 0):
            size = rng.randint(4, min(20, len(words)))
            start = rng.randint(0, len(words) - size)
            texts.append(" ".join(words[start:start + size]))
    texts = list(dict.fromkeys(texts))
    rng.shuffle(texts)
    return texts[:max_texts]


def token_vectors(model, vocab_size: int, token_ids=None, batch_size: int = 1024, progress: bool = True) -> np.ndarray:
    """The teacher's embedding of each token on its own ([CLS] token [SEP], the teacher's pooling
    and normalisation): the student's starting point. `token_ids` limits it to those tokens (the
    other rows stay zero); default every token of the vocabulary."""
    import torch

    tokenizer = model.tokenizer
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    wanted = torch.arange(vocab_size) if token_ids is None else torch.tensor(sorted(set(token_ids)), dtype=torch.long)
    vectors = np.zeros((vocab_size, model.get_sentence_embedding_dimension()), dtype=np.float32)
    with torch.inference_mode():
        for start in tqdm(range(0, len(wanted), batch_size), desc="token vectors", file=sys.stderr, disable=not progress):
            ids = wanted[start:start + batch_size]
            input_ids = torch.stack([torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)], dim=1)
            features = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
                        "token_type_ids": torch.zeros_like(input_ids)}
            vectors[ids.numpy()] = model(features)["sentence_embedding"].numpy()
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)


def distill(config: DistillConfig, progress: bool = True) -> Path:
    """Train the student for `config.corpus` and save it; returns its folder."""
    import torch
    import torch.nn.functional as F
    from sentence_transformers import SentenceTransformer
    from models.static_query import MAX_QUERY_TOKENS, StaticQueryEncoder, model_fingerprint, open_tokenizer

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    folder = sentence_transformer_folder(config.teacher)
    texts = training_texts(read_documents(config.corpus), config.windows_per_doc, config.max_texts, config.seed)
    teacher = SentenceTransformer(folder, device="cpu", local_files_only=True)
    targets = teacher.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                             show_progress_bar=progress)
    tokenizer = open_tokenizer(Path(folder) / "tokenizer.json")
    vocab_size = tokenizer.get_vocab_size()
    encoded = [ids[:MAX_QUERY_TOKENS] or [tokenizer.token_to_id("[UNK]") or 0]
               for ids in (e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False))]
    seen = None if config.full_vocabulary else {t for ids in encoded for t in ids}
    initial = token_vectors(teacher, vocab_size, seen, progress=progress)
    del teacher

    vectors = torch.nn.Parameter(torch.from_numpy(initial))
    # weights start from a smoothed inverse document frequency over the training texts
    document_frequency = np.ones(vocab_size, dtype=np.float32)
    for ids in encoded:
        document_frequency[list(set(ids))] += 1
    idf = np.log((len(encoded) + 1) / document_frequency).astype(np.float32)
    raw_weights = torch.nn.Parameter(torch.from_numpy(np.log(np.expm1(np.maximum(idf, 0.05)))))  # softplus^-1
    # only the rows of a batch's tokens change: sparse gradients keep a step cheap with a 30k vocabulary
    vector_optimizer = torch.optim.SparseAdam([vectors], lr=config.lr)
    weight_optimizer = torch.optim.Adam([raw_weights], lr=config.lr)
    target_tensor = torch.from_numpy(targets)

    rng = random.Random(config.seed)
    order = list(range(len(texts)))
    losses: list[float] = []
    steps = config.epochs * ((len(order) + config.batch_size - 1) // config.batch_size)
    bar = tqdm(total=steps, desc="distilling query encoder", unit="step", file=sys.stderr, disable=not progress)
    for _ in range(config.epochs):
        rng.shuffle(order)
        for first in range(0, len(order), config.batch_size):
            batch = order[first:first + config.batch_size]
            flat = torch.tensor([t for i in batch for t in encoded[i]])
            offsets = torch.tensor([0] + list(np.cumsum([len(encoded[i]) for i in batch])[:-1]))
            weights = F.softplus(raw_weights[flat])
            student = F.embedding_bag(flat, vectors, offsets, mode="sum", per_sample_weights=weights, sparse=True)
            loss = (1 - F.cosine_similarity(student, target_tensor[batch], dim=-1)).mean()
            vector_optimizer.zero_grad()
            weight_optimizer.zero_grad()
            loss.backward()
            vector_optimizer.step()
            weight_optimizer.step()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(cosine=f"{1 - loss.item():.3f}")
    bar.close()

    with torch.no_grad():
        final_vectors, final_weights = vectors.numpy().copy(), F.softplus(raw_weights).numpy().copy()
    meta = {"config": asdict(config), "teacher_folder": folder, "teacher_fingerprint": model_fingerprint(folder),
            "texts": len(texts), "steps": len(losses),
            "seconds": round(time.perf_counter() - started, 1),
            "final_cosine": round(1 - float(np.mean(losses[-20:])), 4) if losses else None}
    out = config.resolved_out()
    StaticQueryEncoder(tokenizer, final_vectors, final_weights, meta).save(out, Path(folder) / "tokenizer.json")
    (out / "distill.json").write_text(json.dumps({**meta, "losses": [round(x, 4) for x in losses[::10]]}, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.query_distill", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="a BEIR corpus.jsonl, or files/folders the knowledge base ingests")
    parser.add_argument("--out", default="", help="output folder (default out/query_encoders/<corpus name>)")
    parser.add_argument("--teacher", default="local", help="'local' (bundled MiniLM) or hf:FOLDER")
    for field in ("epochs", "batch_size", "windows_per_doc", "max_texts", "seed"):
        parser.add_argument("--" + field.replace("_", "-"), type=int, default=getattr(DistillConfig, field))
    parser.add_argument("--lr", type=float, default=DistillConfig.lr)
    parser.add_argument("--collection-vocabulary-only", dest="full_vocabulary", action="store_false",
                        help="start vectors only for the collection's tokens (faster; unseen query words count for nothing)")
    args = parser.parse_args(argv)
    try:
        out = distill(DistillConfig(**vars(args)))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Static query encoder written to {out}. Use it with the embeddings spec "
          f"`{args.teacher}?query_encoder={out}` (the index keeps its document vectors).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
