"""PubMedQA (expert-labelled PQA-L, 1,000 abstracts) as a searchable collection of papers.

    from rag.knowledge_base import KnowledgeBase
    from rag.pubmed import load_pubmedqa, index_pubmedqa, search_papers

    records = load_pubmedqa("../shared/data/pubmedqa_pqal")        # folder or ori_pqal.json
    kb = KnowledgeBase(collection="pubmedqa")
    index_pubmedqa(kb, records)                                     # unchanged records are skipped
    search_papers(kb, "statins and dementia risk", k=5, mesh="Humans", years=(2005, 2015))

One document per record: the title is the question, the text the abstract sections (CONTEXTS)
joined by blank lines, and the metadata carries `pmid`, `year`, `meshes`, `decision` (yes / no /
maybe). Chunks are whole sentences (`chunker="sentence"`), so a hit can show the sentences that
matched. The app on top of this is `python -m apps.search`.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from models.progress import ProgressCallback
from models.settings import shared_data
from rag.chunking import chunk_document
from rag.documents import SourceDocument
from rag.store import ScoredChunk

DEFAULT_DATA = shared_data() / "pubmedqa_pqal"
DATA_FILE = "ori_pqal.json"
COLLECTION = "pubmedqa"
CHUNKER, CHUNK_SIZE, CHUNK_OVERLAP = "sentence", 700, 150
SOURCE_PREFIX = "pubmedqa:"

class PubMedDataError(ValueError):
    """The PubMedQA file is missing or not in the expected format; the message names the fix."""


@dataclass
class PubMedRecord:
    pmid: str
    question: str
    contexts: list[str]
    labels: list[str] = field(default_factory=list)
    meshes: list[str] = field(default_factory=list)
    year: int | None = None
    decision: str = ""
    long_answer: str = ""

    def to_document(self) -> SourceDocument:
        text = "\n\n".join(c.strip() for c in self.contexts if c.strip())
        # the hash covers everything indexed, so an edited record is re-embedded and nothing else
        digest = hashlib.sha256(json.dumps([self.question, text, self.meshes, self.year, self.decision])
                                .encode("utf-8")).hexdigest()
        return SourceDocument(text=text, source=SOURCE_PREFIX + self.pmid, title=self.question, metadata={
            "format": "pubmedqa", "sha256": digest, "pmid": self.pmid, "year": self.year,
            "meshes": list(self.meshes), "decision": self.decision})


def load_pubmedqa(path: str | Path = DEFAULT_DATA, limit: int | None = None) -> list[PubMedRecord]:
    """Records of `ori_pqal.json` (a folder holding it, or the file), in file order."""
    p = Path(path)
    file = p / DATA_FILE if p.is_dir() else p
    if not file.exists():
        raise PubMedDataError(f"{file}: not found. Pass --data with the folder holding {DATA_FILE} "
                              f"(default {DEFAULT_DATA}).")
    try:
        raw = json.loads(file.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PubMedDataError(f"{file}: not valid UTF-8 JSON ({err}). Use the original {DATA_FILE} from "
                              "github.com/pubmedqa/pubmedqa (data/).") from err
    if not isinstance(raw, dict):
        raise PubMedDataError(f"{file}: expected a JSON object keyed by PMID, got {type(raw).__name__}.")
    records = []
    for pmid, item in raw.items():
        if not isinstance(item, dict) or not item.get("QUESTION") or not isinstance(item.get("CONTEXTS"), list):
            raise PubMedDataError(f"{file}: record {pmid!r} lacks QUESTION or a CONTEXTS list; is this a "
                                  "PubMedQA file (ori_pqal.json)?")
        year = str(item.get("YEAR") or "").strip()
        records.append(PubMedRecord(
            pmid=str(pmid), question=item["QUESTION"].strip(), contexts=[str(c) for c in item["CONTEXTS"]],
            labels=list(item.get("LABELS") or []), meshes=list(item.get("MESHES") or []),
            year=int(year) if year.isdigit() else None, decision=item.get("final_decision", ""),
            long_answer=item.get("LONG_ANSWER", "")))
        if limit is not None and len(records) >= limit:
            break
    return records


@dataclass
class IndexReport:
    added: int = 0
    unchanged: int = 0
    chunks: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.added} abstracts indexed ({self.chunks} chunks), {self.unchanged} unchanged, "
                f"in {self.seconds:.1f} s")


def index_pubmedqa(kb, records: Sequence[PubMedRecord], batch_size: int = 32,
                   progress: ProgressCallback | None = None) -> IndexReport:
    """Chunk and embed the records not yet indexed (or changed), many records per embedding call.

    `kb` is a `rag.knowledge_base.KnowledgeBase`; its store and embeddings are used directly
    because the records are not files.
    """
    report = IndexReport()
    started = time.perf_counter()
    indexed = kb.store.source_hashes()
    documents = []
    for record in records:
        doc = record.to_document()
        if indexed.get(doc.source) == doc.metadata["sha256"]:
            report.unchanged += 1
        else:
            documents.append(doc)
    total = len(documents)
    if progress:
        progress(0, total, "")
    for begin in range(0, total, batch_size):
        batch = documents[begin:begin + batch_size]
        chunked = [chunk_document(doc, chunker=CHUNKER, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
                   for doc in batch]
        for doc, chunks in zip(batch, chunked):
            for chunk in chunks:
                chunk.metadata.update({k: doc.metadata[k] for k in ("pmid", "year", "meshes", "decision")})
        vectors = kb.embeddings.embed_documents([c.text for chunks in chunked for c in chunks])
        at = 0
        with kb.store.session(write=True):  # one short write per batch (a shared folder is held only here)
            for doc, chunks in zip(batch, chunked):
                kb.store.replace_source(doc.source, doc.metadata["sha256"], chunks, vectors[at:at + len(chunks)])
                at += len(chunks)
                report.chunks += len(chunks)
        report.added += len(batch)
        if progress:
            progress(min(begin + batch_size, total), total, "")
    report.seconds = time.perf_counter() - started
    return report


# --------------------------------------------------------------------------- search


@dataclass
class PaperHit:
    pmid: str
    title: str
    score: float
    year: int | None
    meshes: list[str]
    decision: str
    text: str  # the best-matching chunk
    highlights: list[str]  # its sentences that match the query best, best first


def matches_paper_filters(chunk: ScoredChunk, years: tuple[int, int] | None = None,
                          mesh: str | Sequence[str] | None = None) -> bool:
    """Year within `years` (inclusive) and, when given, at least one of the MeSH terms (case-insensitive).

    >>> c = ScoredChunk("t", "pubmedqa:1", 0, 0.5, metadata={"year": 2009, "meshes": ["Humans", "Aged"]})
    >>> matches_paper_filters(c, (2005, 2010), "aged"), matches_paper_filters(c, (2010, 2020))
    (True, False)
    """
    if years is not None:
        year = chunk.metadata.get("year")
        if year is None or not years[0] <= int(year) <= years[1]:
            return False
    if mesh:
        wanted = {mesh.lower()} if isinstance(mesh, str) else {m.lower() for m in mesh}
        if not wanted & {m.lower() for m in chunk.metadata.get("meshes") or []}:
            return False
    return True


def search_papers(kb, query: str, k: int = 5, years: tuple[int, int] | None = None,
                  mesh: str | Sequence[str] | None = None, highlights: int = 2) -> list[PaperHit]:
    """The `k` best papers for `query` (best chunk per paper), filtered by year range and MeSH term,
    each with the sentences of its best chunk that match the query best."""
    from rag.evidence import select_evidence

    if not query.strip():
        return []
    vector = kb.embeddings.embed_query(query)
    filtered = years is not None or bool(mesh)
    # Several chunks per paper, and filters applied in Python: fetch enough to fill k papers.
    # With filters the whole collection is scored (1,000 abstracts: a few milliseconds).
    limit = kb.count() if filtered else k * 6
    best: dict[str, ScoredChunk] = {}
    for chunk in kb.search_by_vector(vector, k=max(limit, k)):
        if chunk.source not in best and matches_paper_filters(chunk, years, mesh):
            best[chunk.source] = chunk
        if len(best) >= k:
            break
    chunks = list(best.values())
    evidence = select_evidence(query, chunks, kb.embeddings, limit=len(chunks) * 8) if highlights else []
    hits = []
    for number, chunk in enumerate(chunks, start=1):
        sentences = [whole_sentence(chunk.text, e.sentence) for e in evidence if e.number == number][:highlights]
        meta = chunk.metadata
        hits.append(PaperHit(pmid=str(meta.get("pmid", chunk.source.removeprefix(SOURCE_PREFIX))), title=chunk.title,
                             score=chunk.score, year=meta.get("year"), meshes=list(meta.get("meshes") or []),
                             decision=meta.get("decision", ""), text=chunk.text, highlights=sentences))
    return hits


def whole_sentence(text: str, fragment: str) -> str:
    """The sentence of `text` (by `rag.chunking.split_sentence_spans`) in which `fragment` starts;
    the evidence splitter also breaks at abbreviations such as "vs.", which this mends.

    >>> whole_sentence("HDL was 1.2 vs. 1.5 mmol/l in cases. Next.", "1.5 mmol/l in cases.")
    'HDL was 1.2 vs. 1.5 mmol/l in cases.'
    """
    from rag.chunking import split_sentence_spans

    at = text.find(fragment)
    if at < 0:
        return fragment
    for start, end in split_sentence_spans(text):
        if start <= at < end:
            return text[start:max(end, at + len(fragment))]
    return fragment


def highlight(text: str, sentences: Sequence[str], mark: Callable[[str], str]) -> str:
    """`text` with each of `sentences` that occurs in it wrapped by `mark`.

    >>> highlight("A b c. D e f.", ["D e f."], lambda s: f"**{s}**")
    'A b c. **D e f.**'
    """
    for sentence in sentences:
        if sentence and sentence in text:
            text = text.replace(sentence, mark(sentence), 1)
    return text
