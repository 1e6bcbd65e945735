"""Adapt the bundled embedding model to a document collection, with no labelled queries.

A general-purpose encoder such as all-MiniLM-L6-v2 has rarely seen a collection's vocabulary
(1950s aerodynamics in Cranfield, a company's product names in a handbook). This lab fine-tunes
it on pairs mined from the documents themselves, with in-batch negatives
(MultipleNegativesRankingLoss): a document's title against its body, and a sentence against the
rest of its passage (the inverse cloze task). No query, no relevance judgement and no hub
download is involved, so it can run on any collection a user indexes.

    python -m training.embedding_adapt --corpus ../shared/data/cranfield/corpus.jsonl --out out/embeddings/cranfield
    python -m apps.ask --embeddings hf:out/embeddings/cranfield ...     # any `hf:FOLDER` spec then uses it

`--corpus` takes a BEIR corpus.jsonl (title + text), or any file or folder the knowledge base
ingests (txt, md, html, pdf). The result is a sentence-transformers folder (loads with `hf:FOLDER`), plus
`adapt.json` with the run's settings and loss curve. Re-index the collection with the adapted
model: document vectors from the old model do not match its query vectors.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from models.settings import PROJECT_ROOT

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Za-z0-9(])")


@dataclass
class AdaptConfig:
    corpus: str
    out: str = ""                 # default out/embeddings/<corpus name>
    base: str = "local"           # 'local' (bundled MiniLM) or hf:FOLDER
    epochs: int = 1
    batch_size: int = 32
    lr: float = 3e-5
    warmup_ratio: float = 0.1
    max_seq_length: int = 128
    scale: float = 20.0           # similarity scale of the in-batch softmax
    cloze_pairs_per_doc: int = 1  # sentence vs rest-of-passage pairs mined per document
    seed: int = 13
    threads: int = 0              # torch threads; 0 = leave torch's default

    def resolved_out(self) -> Path:
        return Path(self.out) if self.out else default_output(self.corpus, "embeddings")


def default_output(corpus: str, kind: str) -> Path:
    """out/<kind>/<corpus name>: a BEIR corpus.jsonl is named by its folder, anything else by its stem.

    >>> default_output("../shared/data/cranfield/corpus.jsonl", "embeddings").parts[-2:]
    ('embeddings', 'cranfield')
    """
    source = Path(corpus)
    return PROJECT_ROOT / "out" / kind / (source.parent.name if source.name == "corpus.jsonl" else source.stem)


def sentence_transformer_folder(spec: str) -> str:
    """The folder of 'local' (the bundled MiniLM) or of hf:FOLDER, checked for a fast tokenizer."""
    from models.bundled import minilm_folder

    if spec == "local":
        return str(minilm_folder())
    folder = spec.removeprefix("hf:")
    if not (Path(folder) / "tokenizer.json").is_file():
        raise ValueError(f"{folder} has no tokenizer.json: use 'local' or hf:FOLDER of a sentence-transformers "
                         "model with a fast tokenizer.")
    return folder


def read_documents(corpus: str | Path) -> list[tuple[str, str]]:
    """(title, body) pairs from a BEIR corpus.jsonl or from documents the knowledge base can ingest
    (a file or a folder). A body that repeats its title at the start has the title removed."""
    path = Path(corpus)
    if not path.exists():
        raise FileNotFoundError(f"No corpus at {str(path)!r}: pass a BEIR corpus.jsonl, or a file or folder of "
                                "documents (txt, md, html, pdf).")
    documents: list[tuple[str, str]] = []
    if path.is_file() and path.suffix == ".jsonl":
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number} is not JSON ({exc.msg}); a corpus.jsonl has one "
                                 '{"_id", "title", "text"} object per line.') from None
            documents.append(_title_and_body(str(record.get("title", "")), str(record.get("text", ""))))
    else:  # any file or folder the knowledge base can ingest (txt, md, html, pdf), read by the same loader
        from rag.documents import DocumentError, iter_documents

        for item in iter_documents([path]):
            if isinstance(item, DocumentError):
                print(f"skipped: {item}", file=sys.stderr)
                continue
            documents.append(_title_and_body(item.title, item.text))
    documents = [(t, b) for t, b in documents if b]
    if not documents:
        raise ValueError(f"{path} holds no document text to learn from.")
    return documents


def _title_and_body(title: str, text: str) -> tuple[str, str]:
    """The body without a leading copy of the title (a markdown heading included)."""
    title, text = title.strip(), text.strip()
    head = text.lstrip("# ")
    if title and head.lower().startswith(title.lower()):
        text = head[len(title):].lstrip(" .\n")
    return title, text


def mine_pairs(documents: list[tuple[str, str]], cloze_pairs_per_doc: int = 1, seed: int = 13) -> list[tuple[str, str]]:
    """Training pairs (anchor, positive): title -> body, and `cloze_pairs_per_doc` random
    sentences -> the rest of their document.

    >>> mine_pairs([("Lift of thin wings", "Thin wings lift. They stall early. Flaps help.")], 1, seed=0)[0]
    ('Lift of thin wings', 'Thin wings lift. They stall early. Flaps help.')
    """
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    for title, body in documents:
        if title:
            pairs.append((title, body))
        sentences = [s for s in _SENTENCE_END.split(body) if len(s.split()) >= 4]
        if len(sentences) < 3:
            continue
        for index in rng.sample(range(len(sentences)), min(cloze_pairs_per_doc, len(sentences))):
            rest = " ".join(sentences[:index] + sentences[index + 1:])
            pairs.append((sentences[index], rest))
    return pairs


def adapt(config: AdaptConfig, progress: bool = True) -> Path:
    """Fine-tune `config.base` on pairs mined from `config.corpus`; returns the saved folder."""
    import torch
    import torch.nn.functional as F
    from sentence_transformers import SentenceTransformer

    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    base = sentence_transformer_folder(config.base)
    pairs = mine_pairs(read_documents(config.corpus), config.cloze_pairs_per_doc, config.seed)
    model = SentenceTransformer(base, device="cpu", local_files_only=True)
    serving_length = model.max_seq_length  # restored before saving: documents are embedded at full length
    model.max_seq_length = config.max_seq_length
    model.train()

    steps_per_epoch = math.ceil(len(pairs) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    # A small collection can give a single step: keep at least one step after warm-up so the
    # linear decay never divides by zero.
    warmup = max(1, min(int(config.warmup_ratio * total_steps), total_steps - 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: (step + 1) / warmup if step < warmup else max(0.0, (total_steps - step) / max(1, total_steps - warmup)))

    def encode(texts: list[str]):
        features = model.tokenize(texts)
        return F.normalize(model(features)["sentence_embedding"], dim=-1)

    rng = random.Random(config.seed)
    losses: list[float] = []
    started = time.perf_counter()
    bar = tqdm(total=total_steps, desc="adapting embeddings", unit="step", file=sys.stderr, disable=not progress)
    for _ in range(config.epochs):
        order = list(pairs)
        rng.shuffle(order)
        for first in range(0, len(order), config.batch_size):
            batch = order[first:first + config.batch_size]
            if len(batch) < 2:
                continue
            anchors, positives = encode([a for a, _ in batch]), encode([p for _, p in batch])
            scores = config.scale * anchors @ positives.T
            labels = torch.arange(len(batch))
            # symmetric in-batch softmax: each anchor finds its positive and each positive its anchor
            loss = (F.cross_entropy(scores, labels) + F.cross_entropy(scores.T, labels)) / 2
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()

    out = config.resolved_out()
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.max_seq_length = serving_length
    model.save(str(out))
    (out / "adapt.json").write_text(json.dumps({"config": asdict(config), "base_folder": base, "pairs": len(pairs),
                                                "steps": len(losses), "seconds": round(time.perf_counter() - started, 1),
                                                "losses": [round(x, 4) for x in losses]}, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.embedding_adapt", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="a BEIR corpus.jsonl, or files/folders the knowledge base ingests")
    parser.add_argument("--out", default="", help="output folder (default out/embeddings/<corpus name>)")
    parser.add_argument("--base", default="local", help="'local' (bundled MiniLM) or hf:FOLDER")
    for field in ("epochs", "batch_size", "max_seq_length", "cloze_pairs_per_doc", "seed", "threads"):
        parser.add_argument("--" + field.replace("_", "-"), type=int, default=getattr(AdaptConfig, field))
    parser.add_argument("--lr", type=float, default=AdaptConfig.lr)
    args = parser.parse_args(argv)
    config = AdaptConfig(**{k: v for k, v in vars(args).items()})
    try:
        out = adapt(config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Adapted model written to {out}. Use it with the embeddings spec `hf:{out}` and re-index the collection.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
