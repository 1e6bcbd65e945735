"""Split loaded documents into overlapping chunks for embedding and retrieval.

    from rag.documents import load_document
    from rag.chunking import chunk_document

    doc = load_document("data/handbook/annual-leave.md")
    chunks = chunk_document(doc, chunk_size=800, chunk_overlap=120)
    chunks[0].text, chunks[0].metadata["start"]      # start: offset into doc.text

Splitting prefers section boundaries (`## ` / `### ` headings, which the HTML
loader also produces), then paragraphs, lines, sentences and words. Chunk text
is an exact slice of the document text (nothing is prefixed), so
`doc.text[start:start + len(chunk.text)] == chunk.text`. For PDFs each chunk
also carries the 1-based `page` on which it starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.documents import SourceDocument, page_for_offset

# Headings first so a chunk tends to hold one whole section; "" last so that even
# a run of text with no spaces (a long URL, a base64 blob) is cut to size.
SEPARATORS = ["\n## ", "\n### ", "\n\n", "\n", ". ", " ", ""]


@dataclass
class Chunk:
    text: str
    source: str
    chunk_index: int
    title: str
    metadata: dict = field(default_factory=dict)


def chunk_document(doc: SourceDocument, *, chunk_size: int = 800,
                   chunk_overlap: int = 120) -> list[Chunk]:
    """Chunks of at most `chunk_size` characters, neighbours sharing up to `chunk_overlap`."""
    _check_sizes(chunk_size, chunk_overlap)
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=SEPARATORS,
        add_start_index=True,
    )
    page_starts = doc.metadata.get("page_starts")
    chunks: list[Chunk] = []
    earliest = 0  # each chunk starts strictly after the one before it
    for piece in splitter.create_documents([doc.text]):
        start = _start_offset(doc.text, piece.page_content, piece.metadata.get("start_index", -1),
                              earliest)
        earliest = start + 1
        metadata = {"start": start, "format": doc.metadata.get("format", "")}
        if page_starts:
            metadata["page"] = page_for_offset(page_starts, start)
        chunks.append(Chunk(text=piece.page_content, source=doc.source, chunk_index=len(chunks),
                            title=doc.title, metadata=metadata))
    return chunks


def _check_sizes(chunk_size: int, chunk_overlap: int) -> None:
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}. "
                         "Use a few hundred characters, e.g. chunk_size=800.")
    if chunk_overlap < 0:
        raise ValueError(f"chunk_overlap must be 0 or more, got {chunk_overlap}. "
                         "Use chunk_overlap=0 for no overlap.")
    if chunk_overlap >= chunk_size:
        raise ValueError(f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size "
                         f"({chunk_size}). Lower chunk_overlap (about 15% of chunk_size is "
                         f"typical, here {chunk_size * 15 // 100}) or raise chunk_size.")


def _start_offset(text: str, chunk: str, reported: int, earliest: int) -> int:
    """The splitter's start index if it is right, else the chunk's first place at or after `earliest`.

    The splitter finds each chunk with str.find from an estimate (previous start +
    previous length - overlap). When a chunk is shorter than the overlap, or text
    repeats, that estimate can land on an earlier copy, even the previous chunk's
    own position; citations and page numbers need the real one.
    """
    if reported >= earliest and text.startswith(chunk, reported):
        return reported
    found = text.find(chunk, earliest)
    return found if found != -1 else max(reported, 0)
