"""Split loaded documents into overlapping chunks for embedding and retrieval.

    from rag.documents import load_document
    from rag.chunking import chunk_document

    doc = load_document("data/handbook/annual-leave.md")
    chunks = chunk_document(doc, chunk_size=800, chunk_overlap=120)           # recursive (default)
    chunks = chunk_document(doc, chunker="sentence")                          # whole sentences
    chunks = chunk_document(doc, chunker="token", chunk_size=200, chunk_overlap=30)  # MiniLM tokens
    chunks = chunk_document(doc, chunker="markdown")                          # one section at a time
    chunks[0].text, chunks[0].metadata["start"]      # start: offset into doc.text

Chunkers, chosen by name (`CHUNKERS`):

- `recursive`: characters; prefers section boundaries (`## ` / `### ` headings, which the
  HTML loader also produces), then paragraphs, lines, sentences and words.
- `sentence`: packs whole sentences up to `chunk_size` characters; neighbours repeat the last
  sentences of the previous chunk, up to `chunk_overlap` characters of them.
- `token`: windows of at most `chunk_size` tokens of the bundled MiniLM WordPiece tokenizer
  (the embedding model reads 256 tokens including [CLS]/[SEP], so at most 254 here), sharing
  `chunk_overlap` tokens; windows start and end on whole words.
- `markdown`: one Markdown section at a time (ATX headings outside code fences), each cut to
  `chunk_size` characters by the recursive splitter; the chunk's `title` is the heading path
  ("Policy > Leave > Carry-over") and `metadata["heading_path"]` the list of headings.

Chunk text is always an exact slice of the document text (nothing is prefixed), so
`doc.text[start:start + len(chunk.text)] == chunk.text`. For PDFs each chunk also carries the
1-based `page` on which it starts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rag.documents import SourceDocument, page_for_offset

# Headings first so a chunk tends to hold one whole section; "" last so that even
# a run of text with no spaces (a long URL, a base64 blob) is cut to size.
SEPARATORS = ["\n## ", "\n### ", "\n\n", "\n", ". ", " ", ""]
CHUNKERS = ("recursive", "sentence", "token", "markdown")
# Defaults per chunker: characters for all but "token" (MiniLM WordPiece tokens).
DEFAULT_SIZES = {"recursive": (800, 120), "sentence": (800, 120), "token": (200, 30), "markdown": (800, 120)}


@dataclass
class Chunk:
    text: str
    source: str
    chunk_index: int
    title: str
    metadata: dict = field(default_factory=dict)


Span = tuple[int, int]  # [start, end) character offsets into the document text


def chunk_document(doc: SourceDocument, *, chunk_size: int | None = None, chunk_overlap: int | None = None,
                   chunker: str = "recursive") -> list[Chunk]:
    """Chunks of at most `chunk_size` (characters, or tokens for "token"), neighbours sharing up to
    `chunk_overlap`. Sizes left out take the chunker's default (`DEFAULT_SIZES`)."""
    if chunker not in CHUNKERS:
        raise ValueError(f"Unknown chunker {chunker!r}. Choose one of: {', '.join(CHUNKERS)}.")
    default_size, default_overlap = DEFAULT_SIZES[chunker]
    chunk_size = default_size if chunk_size is None else chunk_size
    chunk_overlap = min(default_overlap, chunk_size // 4) if chunk_overlap is None else chunk_overlap
    _check_sizes(chunk_size, chunk_overlap)

    titles: list[tuple[str, list[str]]] | None = None
    if chunker == "recursive":
        spans = recursive_spans(doc.text, chunk_size, chunk_overlap)
    elif chunker == "sentence":
        spans = sentence_spans(doc.text, chunk_size, chunk_overlap)
    elif chunker == "token":
        spans = token_spans(doc.text, chunk_size, chunk_overlap)
    else:
        spans, titles = markdown_spans(doc.text, chunk_size, chunk_overlap, doc.title)

    page_starts = doc.metadata.get("page_starts")
    chunks: list[Chunk] = []
    for i, (start, end) in enumerate(spans):
        metadata = {"start": start, "format": doc.metadata.get("format", ""), "chunker": chunker}
        if page_starts:
            metadata["page"] = page_for_offset(page_starts, start)
        title = doc.title
        if titles is not None:
            title, path = titles[i]
            metadata["heading_path"] = path
        chunks.append(Chunk(text=doc.text[start:end], source=doc.source, chunk_index=len(chunks),
                            title=title, metadata=metadata))
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


# --------------------------------------------------------------------------- recursive characters


def recursive_spans(text: str, chunk_size: int, chunk_overlap: int, offset: int = 0) -> list[Span]:
    """LangChain's recursive character splitter, with start offsets made exact."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                                              separators=SEPARATORS, add_start_index=True)
    spans: list[Span] = []
    earliest = 0  # each chunk starts strictly after the one before it
    for piece in splitter.create_documents([text]):
        start = _start_offset(text, piece.page_content, piece.metadata.get("start_index", -1), earliest)
        earliest = start + 1
        spans.append((offset + start, offset + start + len(piece.page_content)))
    return spans


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


# --------------------------------------------------------------------------- sentences

# A sentence ends at . ! or ? (optionally followed by a closing quote or bracket) before
# whitespace and a capital, digit or bracket, or at a blank line / list line break; "e.g. this"
# stays one sentence because the next word starts in lower case, "vs. 12" and "et al. 2009"
# because of the abbreviation.
_ABBREVIATIONS = "".join(rf"(?<!\b{a}\.)" for a in ("vs", "al", "Fig", "No", "approx", "ca", "Dr", "Mr", "Ms", "St"))
_SENTENCE_END = re.compile(
    rf"""(?<=[.!?]){_ABBREVIATIONS}["')\]]*\s+(?=[A-Z0-9"'(\[#*-])"""  # punctuation, space, capital
    r"|\n\s*\n"                                                          # a blank line
    r"|\n(?=\s*(?:[-*#>|]|\d+[.)]))")                                     # a list item, heading or table row


def split_sentence_spans(text: str) -> list[Span]:
    """Sentence spans of `text` without surrounding whitespace.

    >>> t = "Leave is 25 days. Carry over 5, e.g. in May!\\n\\n- Ask first (vs. 12 in 2009). Done"
    >>> [t[s:e] for s, e in split_sentence_spans(t)]
    ['Leave is 25 days.', 'Carry over 5, e.g. in May!', '- Ask first (vs. 12 in 2009).', 'Done']
    """
    spans: list[Span] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        _append_stripped(text, start, m.start(), spans)
        start = m.end()
    _append_stripped(text, start, len(text), spans)
    return spans


def _append_stripped(text: str, start: int, end: int, spans: list[Span]) -> None:
    piece = text[start:end]
    if piece.strip():
        lead = len(piece) - len(piece.lstrip())
        spans.append((start + lead, start + len(piece.rstrip())))


def sentence_spans(text: str, chunk_size: int, chunk_overlap: int) -> list[Span]:
    """Whole sentences packed up to `chunk_size` characters; a chunk repeats the trailing
    sentences of the one before it that fit in `chunk_overlap` characters. A sentence longer
    than `chunk_size` on its own is cut by the recursive splitter."""
    units: list[Span] = []
    for s, e in split_sentence_spans(text):
        if e - s <= chunk_size:
            units.append((s, e))
        else:
            units.extend(recursive_spans(text[s:e], chunk_size, chunk_overlap, offset=s))
    return pack_units(units, chunk_size, chunk_overlap, length=lambda s, e: e - s)


def pack_units(units: list[Span], limit: int, overlap: int, length) -> list[Span]:
    """Group consecutive units (each within `limit`) into spans of at most `limit` by `length(start,
    end)`; each span after the first begins with the previous span's last units whose length fits
    in `overlap`, as long as that still leaves room for at least one new unit."""
    spans: list[Span] = []
    i = 0
    while i < len(units):
        first = i
        j = i + 1
        while j < len(units) and length(units[first][0], units[j][1]) <= limit:
            j += 1
        spans.append((units[first][0], units[j - 1][1]))
        if j >= len(units):
            break
        # step back over whole units for the overlap, never back to (or before) this span's start
        back = j
        while (back - 1 > first and length(units[back - 1][0], units[j - 1][1]) <= overlap
               and length(units[back - 1][0], units[j][1]) <= limit):
            back -= 1
        i = back
    return spans


# --------------------------------------------------------------------------- tokens


@lru_cache(maxsize=1)
def minilm_tokenizer():
    """The bundled MiniLM WordPiece tokenizer (no padding, no truncation) and its window in tokens,
    special tokens excluded."""
    from tokenizers import Tokenizer

    from models.bundled import minilm_folder

    folder = minilm_folder()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    config = folder / "sentence_bert_config.json"
    window = json.loads(config.read_text()).get("max_seq_length", 256) if config.exists() else 256
    return tokenizer, window - 2  # [CLS] and [SEP]


def count_tokens(text: str) -> int:
    """MiniLM WordPiece tokens in `text`, special tokens excluded."""
    tokenizer, _ = minilm_tokenizer()
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def token_spans(text: str, chunk_size: int, chunk_overlap: int) -> list[Span]:
    """Windows of at most `chunk_size` MiniLM tokens sharing about `chunk_overlap`; windows start and
    end at whitespace, never inside a word or before its punctuation, unless one word is longer
    than the window."""
    tokenizer, window = minilm_tokenizer()
    if chunk_size > window:
        raise ValueError(f"chunk_size={chunk_size} tokens is more than the embedding model reads ({window} "
                         f"tokens plus [CLS]/[SEP]); the rest would be cut off unseen. Use chunk_size <= {window}.")
    encoding = tokenizer.encode(text, add_special_tokens=False)
    offsets = encoding.offsets
    n = len(offsets)
    if n == 0:
        return []

    def word_start(k: int) -> bool:  # whitespace before token k (or an edge of the text)
        return k <= 0 or k >= n or offsets[k][0] > offsets[k - 1][1]

    spans: list[Span] = []
    i = 0
    while i < n:
        end = min(i + chunk_size, n)
        while end > i + 1 and not word_start(end):
            end -= 1
        if not word_start(end):  # one word longer than the window: cut it anyway
            end = min(i + chunk_size, n)
        spans.append((offsets[i][0], offsets[end - 1][1]))
        if end >= n:
            break
        # overlap at most chunk_overlap tokens: move forward to the next word start
        nxt = max(end - chunk_overlap, i + 1)
        while nxt < end and not word_start(nxt):
            nxt += 1
        i = nxt
    return spans


# --------------------------------------------------------------------------- Markdown sections

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


def markdown_sections(text: str) -> list[tuple[int, int, list[str]]]:
    """(start, end, heading path) per section; text before the first heading has an empty path.
    A heading with no body before the next heading is kept with the section that follows it, so
    no chunk is a bare heading.

    >>> t = "# A\\n\\n## B\\nbody b\\n## C\\nbody c"
    >>> [(t[s:e], path) for s, e, path in markdown_sections(t)]
    [('# A\\n\\n## B\\nbody b\\n', ['A', 'B']), ('## C\\nbody c', ['A', 'C'])]
    """
    fences = [m.start() for m in _FENCE.finditer(text)]
    headings = []
    for m in _ATX.finditer(text):
        inside_fence = sum(1 for f in fences if f < m.start()) % 2 == 1
        if not inside_fence:
            headings.append((m.start(), m.end(), len(m.group(1)), m.group(2).strip()))

    sections: list[tuple[int, int, list[str]]] = []
    if not headings or text[:headings[0][0]].strip():
        sections.append((0, headings[0][0] if headings else len(text), []))
    stack: list[tuple[int, str]] = []  # (level, title)
    pending: int | None = None  # start of a heading-only section waiting for its body
    for k, (h_start, h_end, level, title) in enumerate(headings):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        end = headings[k + 1][0] if k + 1 < len(headings) else len(text)
        start = h_start if pending is None else pending
        if not text[h_end:end].strip() and k + 1 < len(headings):
            pending = start
            continue
        pending = None
        sections.append((start, end, [t for _, t in stack]))
    return [s for s in sections if text[s[0]:s[1]].strip()]


def markdown_spans(text: str, chunk_size: int, chunk_overlap: int,
                   doc_title: str) -> tuple[list[Span], list[tuple[str, list[str]]]]:
    spans: list[Span] = []
    titles: list[tuple[str, list[str]]] = []
    for start, end, path in markdown_sections(text):
        title = " > ".join(path) if path else doc_title
        # the splitter strips whitespace, so a section's trailing blank lines never end a chunk
        for span in recursive_spans(text[start:end], chunk_size, chunk_overlap, offset=start):
            spans.append(span)
            titles.append((title, list(path)))
    return spans, titles
