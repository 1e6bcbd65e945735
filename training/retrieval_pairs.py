"""Labelled (query, document) pairs for training retrieval models, from what a user has.

    pairs = load_pairs("../shared/data/cranfield", split="dev")   # a BEIR folder: queries + graded qrels
    pairs = load_pairs("my_pairs.jsonl")                          # {"query", "positive"[, "negative"]} per line
    pairs = load_pairs("data/handbook")                           # no labels: pairs mined from the documents
    python -m training.retrieval_pairs --corpus ../shared/data/cranfield/corpus.jsonl --out pretraining.jsonl
    negatives = mine_hard_negatives(pairs, first_stage_retriever(pairs.documents), per_query=8)

Three input formats, one shape (`LabelledPairs`: documents, queries, graded qrels, given negatives):
- a BEIR folder (corpus.jsonl, queries[.<split>].jsonl, qrels/<split>.tsv): grades kept as they are;
- a JSONL file of `{"query": ..., "positive": ...}` lines, with an optional `"negative"` (a text or a
  list of texts) and `"grade"`; the texts become the documents, equal texts share one id;
- anything else (a BEIR corpus.jsonl, a file or folder of documents): no labels, so pairs are mined
  from the documents with `training.embedding_adapt.mine_pairs` (title -> body, sentence -> rest).

Hard negatives come from the project's own first stage (BM25 + dense, fused by reciprocal rank, the
retrieval the graphs use): the highest-ranked documents that are not judged relevant. The very top
`skip_top` are left out, because an unjudged document ranked first is as likely to be a missed
relevant one as a true negative.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Mapping, Protocol, Sequence


@dataclass
class LabelledPairs:
    """Documents, queries and graded judgements (grade > 0 = relevant), one shape for every format."""

    documents: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    negatives: dict[str, list[str]] = field(default_factory=dict)  # query id -> doc ids given as not relevant
    source: str = ""                                                 # beir | jsonl | mined

    def subset(self, query_ids: Iterable[str]) -> "LabelledPairs":
        """The same documents with only these queries (a cross-validation fold's training part)."""
        keep = [q for q in query_ids if q in self.queries]
        return LabelledPairs(self.documents, {q: self.queries[q] for q in keep}, {q: self.qrels[q] for q in keep},
                             {q: self.negatives[q] for q in keep if q in self.negatives}, self.source)

    def max_grade(self) -> int:
        return max((g for judged in self.qrels.values() for g in judged.values()), default=1) or 1

    def positives(self) -> list[tuple[str, str, int]]:
        """(query id, doc id, grade) for every relevant judgement."""
        return [(q, d, g) for q, judged in self.qrels.items() for d, g in judged.items() if g > 0 and d in self.documents]

    def fingerprint(self) -> str:
        """A short hash of the queries and judgements, logged with each run (same data, same hash)."""
        digest = hashlib.sha256(json.dumps([sorted(self.queries.items()), sorted((q, sorted(j.items()))
                                            for q, j in self.qrels.items())]).encode())
        return digest.hexdigest()[:12]


class Retriever(Protocol):
    def retrieve(self, query: str, k: int = 10) -> list: ...


def passage_text(title: str, text: str) -> str:
    """A BEIR record as one passage: the title on its own line unless the text already starts with it."""
    title, text = title.strip(), text.strip()
    return text if not title or text.startswith(title) else f"{title}\n{text}"


def load_pairs(path: str | Path, split: str = "dev") -> LabelledPairs:
    """LabelledPairs from a BEIR folder, a pairs JSONL, or (no labels) documents to mine pairs from."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No training data at {str(path)!r}: pass a BEIR folder (corpus.jsonl, queries, qrels/), "
                                'a JSONL of {"query", "positive"[, "negative"]} lines, or documents to mine pairs from.')
    if path.is_dir() and (path / "corpus.jsonl").is_file() and (path / "qrels").is_dir():
        return read_beir(path, split)
    if path.is_file() and path.suffix == ".jsonl" and _looks_like_pairs(path):
        return read_pairs_jsonl(path)
    return mine_from_documents(path)


def read_beir(folder: str | Path, split: str = "dev") -> LabelledPairs:
    corpus, queries, qrels = load_beir(folder, split)
    documents = {doc_id: passage_text(doc["title"], doc["text"]) for doc_id, doc in corpus.items()}
    return LabelledPairs(documents, queries, qrels, source="beir")


def _looks_like_pairs(path: Path) -> bool:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(record, dict) and "query" in record
    return False


def read_pairs_jsonl(path: str | Path) -> LabelledPairs:
    """One `{"query": str, "positive": str, "negative"?: str | [str], "grade"?: int}` object per line.

    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
    >>> _ = f.write('{"query": "leave days", "positive": "25 days of leave", "negative": "Book trains early."}\\n')
    >>> f.close(); p = read_pairs_jsonl(f.name); os.unlink(f.name)
    >>> list(p.queries.values()), list(p.qrels.values()), list(p.negatives.values())
    (['leave days'], [{'d0': 1}], [['d1']])
    """
    documents: dict[str, str] = {}
    by_text: dict[str, str] = {}
    queries: dict[str, str] = {}
    query_ids: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    negatives: dict[str, list[str]] = {}

    def doc_id(text: str) -> str:
        if text not in by_text:
            by_text[text] = f"d{len(by_text)}"
            documents[by_text[text]] = text
        return by_text[text]

    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number} is not JSON ({exc.msg}); each line must be one object such as "
                                 '{"query": "...", "positive": "..."}.') from None
            query, positive = str(record.get("query", "")).strip(), str(record.get("positive", "")).strip()
            if not query or not positive:
                raise ValueError(f"{path}:{number} needs a non-empty \"query\" and \"positive\" "
                                 f"(found keys {sorted(record)}).")
            grade = int(record.get("grade", 1))
            if grade < 1:
                raise ValueError(f"{path}:{number}: grade {grade} for a positive; use 1 or more (put "
                                 "non-relevant texts under \"negative\").")
            if query not in query_ids:
                query_ids[query] = f"q{len(query_ids)}"
                queries[query_ids[query]] = query
            qid = query_ids[query]
            qrels.setdefault(qid, {})[doc_id(positive)] = grade
            given = record.get("negative") or []
            for text in [given] if isinstance(given, str) else given:
                if str(text).strip():
                    negatives.setdefault(qid, []).append(doc_id(str(text).strip()))
    if not queries:
        raise ValueError(f"{path} holds no pairs.")
    return LabelledPairs(documents, queries, qrels, negatives, source="jsonl")


def mine_from_documents(path: str | Path, seed: int = 13) -> LabelledPairs:
    """The no-label fallback: (title -> body) and (sentence -> rest of its document) pairs."""
    from training.embedding_adapt import mine_pairs, read_documents

    texts = read_documents(path)
    documents = {f"doc{i}": passage_text(title, body) for i, (title, body) in enumerate(texts)}
    by_body = {body: f"doc{i}" for i, (_, body) in enumerate(texts)}
    queries, qrels = {}, {}
    for title, body in texts:
        for anchor, positive in mine_pairs([(title, body)], cloze_pairs_per_doc=1, seed=seed):
            qid = f"m{len(queries)}"
            queries[qid] = anchor
            qrels[qid] = {by_body[body]: 1}  # the whole document counts as the anchor's positive
            del positive
    return LabelledPairs(documents, queries, qrels, source="mined")


def in_memory_index(documents: dict[str, str], embeddings: str = "local"):
    """A KnowledgeBase in memory holding one chunk per document, its source the document id."""
    import time

    from rag.knowledge_base import KnowledgeBase
    from rag.store import ScoredChunk

    ids = list(documents)
    chunks = [ScoredChunk(text=documents[i], source=i, chunk_index=0, score=0.0) for i in ids]
    kb = KnowledgeBase(collection=f"pairs-{time.time_ns()}", location=":memory:", embeddings=embeddings,
                       query_cache_size=0)
    kb.store.upsert_chunks(chunks, kb.embeddings.embed_documents([c.text for c in chunks]))
    return kb


def first_stage_retriever(documents: dict[str, str], embeddings: str = "local", candidates: int = 100):
    """BM25 + dense over `documents`, fused by reciprocal rank: the hybrid retrieval the graphs use,
    in an in-memory index. Hits carry the document id as `source`."""
    return in_memory_index(documents, embeddings).retriever("hybrid", candidates=candidates)


def mine_hard_negatives(pairs: LabelledPairs, retriever: Retriever, per_query: int = 8, depth: int = 50,
                        skip_top: int = 2, seed: int = 13) -> dict[str, list[str]]:
    """Per query: `per_query` documents the first stage ranks in its top `depth` (after the first
    `skip_top` unjudged ones) that are not judged relevant, sampled with a lean to the higher ranks;
    negatives given in the data come first."""
    rng = random.Random(seed)
    mined: dict[str, list[str]] = {}
    for qid, text in pairs.queries.items():
        relevant = {d for d, g in pairs.qrels.get(qid, {}).items() if g > 0}
        given = [d for d in pairs.negatives.get(qid, []) if d not in relevant]
        ranked = [h.source for h in retriever.retrieve(text, k=depth)]
        unjudged = [d for d in dict.fromkeys(ranked) if d not in relevant and d not in given][skip_top:]
        need = max(0, per_query - len(given))
        half = unjudged[:need // 2 + need % 2]  # the hardest half in rank order, the rest sampled below them
        rest = unjudged[len(half):]
        picked = half + rng.sample(rest, min(len(rest), need - len(half)))
        mined[qid] = (given + picked)[:max(per_query, len(given))]
    return mined


def query_folds(query_ids: Iterable[str], folds: int, seed: int = 13) -> list[list[str]]:
    """Queries shuffled once (seeded) and dealt into `folds` disjoint parts of near-equal size.

    >>> query_folds(["a", "b", "c", "d", "e"], 2, seed=0)
    [['c', 'a', 'd'], ['b', 'e']]
    """
    ids = sorted(query_ids)
    if folds < 2 or folds > len(ids):
        raise ValueError(f"Cannot split {len(ids)} labelled queries into {folds} folds: use 2..{len(ids)}.")
    random.Random(seed).shuffle(ids)
    return [ids[i::folds] for i in range(folds)]


def load_beir(folder: str | Path, split: str = "dev"):
    """(corpus {id: {"title", "text"}}, queries {id: text}, qrels {query id: {doc id: grade}})
    from a BEIR folder: corpus.jsonl, queries.jsonl or queries.<split>.jsonl, qrels/<split>.tsv."""
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise FileNotFoundError(f"No {qrels_path}: is {folder} a BEIR folder, and does it have the '{split}' split?")
    corpus = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                corpus[str(row["_id"])] = {"title": row.get("title", ""), "text": row.get("text", "")}
    queries_path = folder / f"queries.{split}.jsonl"
    if not queries_path.is_file():
        queries_path = folder / "queries.jsonl"
    queries = {}
    with open(queries_path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                queries[str(row["_id"])] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader)
        if header[0].isdigit():  # no header row
            reader = iter([header, *reader])
        for query_id, doc_id, grade in reader:
            qrels.setdefault(query_id, {})[doc_id] = int(grade)
    queries = {q: text for q, text in queries.items() if q in qrels}
    return corpus, queries, qrels


Gain = Literal["linear", "exponential"]


def dcg(grades: Sequence[float], gain: Gain = "linear") -> float:
    """Discounted cumulative gain: sum of gain(grade) / log2(rank + 1).

    >>> round(dcg([3, 1]), 4), round(dcg([3, 1], gain="exponential"), 4)
    (3.6309, 7.6309)
    """
    if gain not in ("linear", "exponential"):
        raise ValueError(f"Unknown gain {gain!r}: use 'linear' (trec_eval, BEIR) or 'exponential' (2^rel - 1).")
    value = (lambda g: g) if gain == "linear" else (lambda g: 2 ** g - 1)
    return sum(value(g) / math.log2(i + 2) for i, g in enumerate(grades))


def ndcg_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int = 10, gain: Gain = "linear") -> float:
    """Normalised discounted cumulative gain of the first k ids.

    >>> round(ndcg_at_k(["a", "b"], {"b": 1}, k=10), 4)
    0.6309
    >>> round(ndcg_at_k(["a", "b"], {"a": 1, "b": 2}), 3), round(ndcg_at_k(["a", "b"], {"a": 1, "b": 2}, gain="exponential"), 3)
    (0.86, 0.797)
    """
    ideal = dcg(sorted(relevance.values(), reverse=True)[:k], gain)
    if ideal == 0:
        return 0.0
    return dcg([relevance.get(doc_id, 0) for doc_id in ranked_ids[:k]], gain) / ideal


def pretraining_pairs(corpus: str | Path, min_body_words: int = 15) -> list[dict]:
    """{"query", "positive"} lines to train a cross-encoder before it sees any labelled query:
    every question of XQuAD's training articles against its paragraph (question-passage relevance
    in general), and every title of `corpus` against its body with the title removed (the
    collection's own vocabulary, no labels used). Feed the file to `python -m training.reranker
    --data`, then start the labelled training from that folder (`--base hf:FOLDER`)."""
    from training.embedding_adapt import read_documents
    from training.grounded_data import xquad_articles

    lines = [{"query": qa["question"], "positive": paragraph["context"]}
             for article in xquad_articles("train") for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    lines += [{"query": title.rstrip(" ."), "positive": body} for title, body in read_documents(corpus)
              if title and len(body.split()) >= min_body_words]
    return lines


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m training.retrieval_pairs",
                                     description="Write cross-encoder pretraining pairs (XQuAD + a corpus's titles).")
    parser.add_argument("--corpus", required=True, help="a BEIR corpus.jsonl or documents with titles")
    parser.add_argument("--out", required=True, type=Path, help="the JSONL file to write")
    args = parser.parse_args(argv)
    try:
        lines = pretraining_pairs(args.corpus)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    print(f"{len(lines)} pairs written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
