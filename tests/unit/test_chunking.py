"""Chunking: sizes, overlap, order, and offsets that point back into the source text, for every
chunker (recursive characters, sentences, MiniLM tokens, Markdown sections)."""

from __future__ import annotations

from pathlib import Path

import pytest

import doctest

import rag.chunking
from rag.chunking import CHUNKERS, Chunk, chunk_document, count_tokens, markdown_sections, split_sentence_spans
from rag.documents import DocumentError, SourceDocument, iter_documents

HANDBOOK = Path(__file__).resolve().parents[2] / "data" / "handbook"


def doc_of(text: str, **metadata) -> SourceDocument:
    return SourceDocument(text=text, source="mem/doc.md", title="Doc",
                          metadata={"format": "markdown", **metadata})


def prose(n_sentences: int) -> str:
    return " ".join(f"Sentence number {i} talks about leave rule {i * 7}." for i in range(n_sentences))


def assert_offsets_exact(doc: SourceDocument, chunks: list[Chunk]) -> None:
    for c in chunks:
        start = c.metadata["start"]
        assert doc.text[start:start + len(c.text)] == c.text, (c.chunk_index, start)


def test_short_document_is_one_chunk():
    doc = doc_of("# Title\n\nJust a little text.")
    [chunk] = chunk_document(doc)
    assert chunk.text == doc.text
    assert chunk.chunk_index == 0
    assert chunk.source == "mem/doc.md" and chunk.title == "Doc"
    assert chunk.metadata["start"] == 0
    assert chunk.metadata["format"] == "markdown"
    assert "page" not in chunk.metadata


def test_indexes_are_sequential_and_sizes_bounded():
    doc = doc_of(prose(120))
    chunks = chunk_document(doc, chunk_size=300, chunk_overlap=50)

    assert len(chunks) > 5
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert all(0 < len(c.text) <= 300 for c in chunks)
    starts = [c.metadata["start"] for c in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_overlap_is_respected():
    doc = doc_of(prose(120))
    chunks = chunk_document(doc, chunk_size=300, chunk_overlap=60)

    for prev, nxt in zip(chunks, chunks[1:]):
        prev_end = prev.metadata["start"] + len(prev.text)
        shared = prev_end - nxt.metadata["start"]
        assert 0 < shared <= 60, (prev.chunk_index, shared)  # neighbours share text, never too much
        assert prev.text.endswith(doc.text[nxt.metadata["start"]:prev_end])


def test_zero_overlap_leaves_no_shared_text():
    doc = doc_of(prose(80))
    chunks = chunk_document(doc, chunk_size=250, chunk_overlap=0)
    for prev, nxt in zip(chunks, chunks[1:]):
        assert prev.metadata["start"] + len(prev.text) <= nxt.metadata["start"]


def test_start_offsets_point_at_chunk_text():
    doc = doc_of(prose(100))
    chunks = chunk_document(doc, chunk_size=200, chunk_overlap=40)
    assert_offsets_exact(doc, chunks)


def test_offsets_stay_right_when_passages_repeat():
    # Identical paragraphs are where a naive text.find() lands on the wrong copy.
    paragraph = "The same boilerplate paragraph appears again and again in this file."
    doc = doc_of("\n\n".join([paragraph] * 30))
    chunks = chunk_document(doc, chunk_size=150, chunk_overlap=30)

    assert_offsets_exact(doc, chunks)
    starts = [c.metadata["start"] for c in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert chunks[-1].metadata["start"] + len(chunks[-1].text) == len(doc.text)


def test_offsets_stay_right_when_chunks_are_shorter_than_the_overlap():
    # The splitter itself reports start 0 for every chunk here; ours must not.
    doc = doc_of("\n\n".join(["ab"] * 6))
    chunks = chunk_document(doc, chunk_size=5, chunk_overlap=4)

    assert [c.metadata["start"] for c in chunks] == [0, 4, 8, 12, 16, 20]
    assert_offsets_exact(doc, chunks)


def test_splits_at_markdown_headings_first():
    section = "Body text for the section. " * 12  # ~320 chars
    text = f"# Policy\n\n## Leave\n\n{section}\n\n## Expenses\n\n{section}\n\n### Meals\n\n{section}"
    doc = doc_of(text)
    chunks = chunk_document(doc, chunk_size=400, chunk_overlap=0)

    assert [c.text.splitlines()[0] for c in chunks[1:]] == ["## Expenses", "### Meals"]
    assert chunks[0].text.startswith("# Policy\n\n## Leave")
    assert_offsets_exact(doc, chunks)


def test_nothing_is_prefixed_to_chunk_text():
    doc = doc_of(prose(60))
    for c in chunk_document(doc, chunk_size=200, chunk_overlap=20):
        assert c.text in doc.text


def test_pdf_chunks_name_their_page():
    pages = [prose(10), prose(10), prose(10)]
    text = "\n\n".join(pages)
    page_starts = [0, len(pages[0]) + 2, len(pages[0]) + len(pages[1]) + 4]
    doc = SourceDocument(text=text, source="x.pdf", title="X",
                         metadata={"format": "pdf", "pages": 3, "page_starts": page_starts})

    chunks = chunk_document(doc, chunk_size=200, chunk_overlap=20)

    for c in chunks:
        expected = sum(1 for s in page_starts if s <= c.metadata["start"])
        assert c.metadata["page"] == expected
    assert {c.metadata["page"] for c in chunks} == {1, 2, 3}


def test_very_long_word_is_still_cut_to_size():
    doc = doc_of("x" * 1000)
    chunks = chunk_document(doc, chunk_size=300, chunk_overlap=0)
    assert all(len(c.text) <= 300 for c in chunks)
    assert "".join(c.text for c in chunks) == doc.text


@pytest.mark.parametrize("size, overlap", [(100, 100), (100, 150)])
def test_overlap_must_be_smaller_than_size(size, overlap):
    with pytest.raises(ValueError, match="chunk_overlap .* must be smaller than chunk_size"):
        chunk_document(doc_of("text"), chunk_size=size, chunk_overlap=overlap)


@pytest.mark.parametrize("size, overlap", [(0, 0), (-5, 0), (100, -1)])
def test_nonsense_sizes_are_rejected(size, overlap):
    with pytest.raises(ValueError):
        chunk_document(doc_of("text"), chunk_size=size, chunk_overlap=overlap)


def test_whole_handbook_chunks_with_exact_offsets():
    docs = [d for d in iter_documents([HANDBOOK]) if not isinstance(d, DocumentError)]
    assert len(docs) == 12
    for doc in docs:
        chunks = chunk_document(doc)
        assert 2 <= len(chunks) <= 12, doc.source
        assert all(len(c.text) <= 800 for c in chunks)
        assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
        assert_offsets_exact(doc, chunks)


# --------------------------------------------------------------------------- every chunker


def test_docstring_examples():
    result = doctest.testmod(rag.chunking)
    assert result.attempted >= 2 and result.failed == 0


def test_unknown_chunker_names_the_choices():
    with pytest.raises(ValueError, match="sentence, token, markdown"):
        chunk_document(doc_of("text"), chunker="semantic")


@pytest.mark.parametrize("chunker", CHUNKERS)
def test_every_chunker_gives_exact_slices_in_order(chunker):
    doc = doc_of("# Policy\n\n## Leave\n\n" + prose(60) + "\n\n## Travel\n\n" + prose(40))
    chunks = chunk_document(doc, chunker=chunker)
    assert len(chunks) >= 2
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert all(c.metadata["chunker"] == chunker for c in chunks)
    assert_offsets_exact(doc, chunks)
    starts = [c.metadata["start"] for c in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    # nothing is lost: every sentence of the document is inside some chunk
    for s, e in split_sentence_spans(doc.text):
        assert any(c.metadata["start"] <= s and e <= c.metadata["start"] + len(c.text) for c in chunks) or \
            chunker in ("token",), doc.text[s:e]


# --------------------------------------------------------------------------- sentences


def test_sentence_chunks_hold_whole_sentences_within_size():
    doc = doc_of(prose(60))
    sentence_ends = {e for _, e in split_sentence_spans(doc.text)}
    sentence_starts = {s for s, _ in split_sentence_spans(doc.text)}
    chunks = chunk_document(doc, chunker="sentence", chunk_size=300, chunk_overlap=0)

    assert len(chunks) > 5 and all(len(c.text) <= 300 for c in chunks)
    for c in chunks:
        assert c.metadata["start"] in sentence_starts
        assert c.metadata["start"] + len(c.text) in sentence_ends
        assert c.text.endswith(".")


def test_sentence_overlap_repeats_whole_trailing_sentences():
    doc = doc_of(prose(60))  # sentences of ~48 characters
    chunks = chunk_document(doc, chunker="sentence", chunk_size=300, chunk_overlap=100)
    sentences = [doc.text[s:e] for s, e in split_sentence_spans(doc.text)]
    for prev, nxt in zip(chunks, chunks[1:]):
        prev_end = prev.metadata["start"] + len(prev.text)
        shared = doc.text[nxt.metadata["start"]:prev_end]
        assert 0 < len(shared) <= 100
        assert shared.split(". ")[0].rstrip(".") + "." in sentences  # starts on a sentence
        assert prev.text.endswith(shared)


def test_sentence_longer_than_chunk_is_cut_to_size():
    doc = doc_of("Short one. " + "word " * 200 + "end. Another short one.")
    chunks = chunk_document(doc, chunker="sentence", chunk_size=120, chunk_overlap=20)
    assert all(len(c.text) <= 120 for c in chunks)
    assert_offsets_exact(doc, chunks)
    assert chunks[-1].text.endswith("Another short one.")


def test_sentence_splitter_keeps_abbreviations_and_splits_list_items():
    text = "See e.g. the rules. Dr. Smith agrees (3.1 vs. 2.9, Fig. 2)!\n- first item\n- second item"
    assert [text[s:e] for s, e in split_sentence_spans(text)] == [
        "See e.g. the rules.", "Dr. Smith agrees (3.1 vs. 2.9, Fig. 2)!", "- first item", "- second item"]


# --------------------------------------------------------------------------- tokens


def test_token_chunks_fit_the_embedding_window_and_overlap_in_tokens():
    doc = doc_of(prose(150) + " Pseudopseudohypoparathyroidism appears unexpectedly.")
    chunks = chunk_document(doc, chunker="token", chunk_size=64, chunk_overlap=16)

    counts = [count_tokens(c.text) for c in chunks]
    assert len(chunks) > 10 and max(counts) <= 64 and min(counts[:-1]) >= 50
    assert_offsets_exact(doc, chunks)
    for prev, nxt in zip(chunks, chunks[1:]):
        shared = doc.text[nxt.metadata["start"]:prev.metadata["start"] + len(prev.text)]
        assert 10 <= count_tokens(shared) <= 16
        # windows start and end at whitespace, on whole words
        assert doc.text[nxt.metadata["start"] - 1].isspace()
        assert prev.metadata["start"] + len(prev.text) == len(doc.text) or \
            doc.text[prev.metadata["start"] + len(prev.text)].isspace()


def test_token_default_fits_minilm_and_oversized_window_is_refused():
    doc = doc_of(prose(300))
    assert all(count_tokens(c.text) <= 200 for c in chunk_document(doc, chunker="token"))
    with pytest.raises(ValueError, match="chunk_size <= 254"):
        chunk_document(doc, chunker="token", chunk_size=800, chunk_overlap=120)


def test_token_count_uses_minilm_wordpiece():
    # "unbelievably" is five WordPiece pieces (un ##bel ##ie ##va ##bly); [CLS]/[SEP] are not counted
    assert count_tokens("Hello unbelievably wonderful world.") == 9
    assert count_tokens("") == 0


# --------------------------------------------------------------------------- Markdown


MARKDOWN = """Preamble before any heading.

# Handbook

## Leave

You get 25 days.

### Carry-over

Up to 5 days.

```bash
# not a heading
```

## Travel

Book ahead.
"""


def test_markdown_chunks_carry_their_heading_path():
    doc = doc_of(MARKDOWN)
    chunks = chunk_document(doc, chunker="markdown")

    assert [c.metadata["heading_path"] for c in chunks] == [
        [], ["Handbook", "Leave"], ["Handbook", "Leave", "Carry-over"], ["Handbook", "Travel"]]
    assert [c.title for c in chunks] == ["Doc", "Handbook > Leave", "Handbook > Leave > Carry-over",
                                         "Handbook > Travel"]
    assert chunks[1].text.startswith("# Handbook\n\n## Leave")  # a bare heading joins its first section
    assert "# not a heading" in chunks[2].text  # code fences are not split at
    assert_offsets_exact(doc, chunks)


def test_markdown_long_section_is_size_limited_and_keeps_its_path():
    doc = doc_of("# Guide\n\n## Long\n\n" + prose(40) + "\n\n## Short\n\nTiny.")
    chunks = chunk_document(doc, chunker="markdown", chunk_size=300, chunk_overlap=30)
    long_chunks = [c for c in chunks if c.metadata["heading_path"] == ["Guide", "Long"]]
    assert len(long_chunks) >= 5 and all(len(c.text) <= 300 for c in chunks)
    assert chunks[-1].metadata["heading_path"] == ["Guide", "Short"]
    assert_offsets_exact(doc, chunks)


def test_markdown_sections_of_text_without_headings_is_one_section():
    assert markdown_sections("plain\n\ntext") == [(0, 11, [])]


def test_markdown_chunker_on_the_handbook_titles_every_section():
    docs = [d for d in iter_documents([HANDBOOK]) if not isinstance(d, DocumentError)]
    for doc in docs:
        chunks = chunk_document(doc, chunker="markdown")
        assert_offsets_exact(doc, chunks)
        if doc.metadata["format"] in ("markdown", "html"):
            assert any(len(c.metadata["heading_path"]) >= 2 for c in chunks), doc.source
