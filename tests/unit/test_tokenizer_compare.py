"""The tokenizer comparison: byte-level tokenizers round-trip, WordPiece and SentencePiece show
their unknowns, counts agree with the libraries themselves."""

from __future__ import annotations

import doctest

import pytest

import training.tokenizers.compare as compare
from training.corpora import load_corpus
from training.tokenizers.bpe import train_bpe
from training.tokenizers.compare import (TOKENIZER_NAMES, available_tokenizers, compare_tokenizers, count_words,
                                         format_table, tokenize_for_display, tokens_html)
from training.tokenizers.sentencepiece_lab import train_sentencepiece

MIXED = "The Court held in Roe v. Wade, 410 U.S. 113 (1973). Grüße aus Köln! 👋🏽 東京 def f(x): return x**2\n"


@pytest.fixture(scope="module")
def bpe_path(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("bpe")
    model, _ = train_bpe(load_corpus("legal", max_chars=8000), 350).save(folder / "small")
    return str(model)


@pytest.fixture(scope="module")
def sentencepiece_path(tmp_path_factory) -> str:
    prefix = tmp_path_factory.mktemp("sp") / "small"
    train_sentencepiece([load_corpus("xquad_en", max_chars=15_000)], 400, model_type="bpe", out_prefix=prefix)
    return f"{prefix}.model"


def test_docstring_examples():
    result = doctest.testmod(compare)
    assert result.attempted > 0 and result.failed == 0


def test_all_six_tokenizers_are_available_here():
    assert available_tokenizers() == list(TOKENIZER_NAMES)


def test_cl100k_counts_equal_tiktoken():
    import tiktoken

    [row] = compare_tokenizers("hello world", ["cl100k_base"])
    assert row.tokens == 2 and row.words == 2 and row.round_trip_exact
    [row] = compare_tokenizers(MIXED, ["cl100k_base"])
    assert row.tokens == len(tiktoken.get_encoding("cl100k_base").encode(MIXED))


def test_byte_level_tokenizers_round_trip_and_the_others_do_not(bpe_path, sentencepiece_path):
    rows = compare_tokenizers(MIXED, ["ours-bpe", "cl100k_base", "sentencepiece", "bert-wordpiece"],
                              bpe_path=bpe_path, sentencepiece_path=sentencepiece_path)
    by_name = {r.name: r for r in rows}
    assert [r.name for r in rows] == ["ours-bpe", "cl100k_base", "sentencepiece", "bert-wordpiece"]
    for name in ("ours-bpe", "cl100k_base"):
        assert by_name[name].round_trip_exact and by_name[name].unknown_tokens == 0
    for name in ("sentencepiece", "bert-wordpiece"):
        assert not by_name[name].round_trip_exact  # <unk>/[UNK] for the emoji; WordPiece also lower-cases
        assert by_name[name].unknown_tokens >= 1
    for row in rows:
        assert row.words == count_words(MIXED) == 20
        assert len(MIXED) / 12 < row.tokens <= len(MIXED.encode())  # plausible: more than bytes never
        assert row.tokens_per_word == pytest.approx(row.tokens / row.words)
        assert row.chars_per_token == pytest.approx(len(MIXED) / row.tokens)
    # a 350-token vocabulary compresses far less than GPT-4's 100k
    assert by_name["ours-bpe"].tokens > by_name["cl100k_base"].tokens


def test_tokens_for_display_join_back_to_the_text(bpe_path):
    text = "The court's order, 28 U.S.C. 1291.\n\tdef f(x): return x"
    for name in ("ours-bpe", "cl100k_base"):
        assert "".join(tokenize_for_display(name, text, bpe_path=bpe_path)) == text
    assert tokenize_for_display("cl100k_base", "hello world") == ["hello", " world"]
    # a token that cuts through a character shows its bytes instead of U+FFFD
    assert any("\\x" in token for token in tokenize_for_display("ours-bpe", "👋🏽", bpe_path=bpe_path))


def test_wordpiece_marks_continuations():
    assert tokenize_for_display("bert-wordpiece", "Tokenization") == ["token", "##ization"]


def test_unknown_names_and_missing_files_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="cl100k_base"):
        compare_tokenizers("x", ["gpt-5"])
    with pytest.raises(FileNotFoundError, match="python -m training.tokenizers.bpe"):
        compare_tokenizers("x", ["ours-bpe"], bpe_path=str(tmp_path / "none.model"))


def test_html_escapes_and_table_lists_every_row():
    html = tokens_html(["<script>", "&", " x"])
    assert "&lt;script&gt;" in html and "&amp;" in html and "<script>" not in html
    assert html.count("<span") == 3 and "#fde68a" in html and "#bfdbfe" in html
    table = format_table(compare_tokenizers("a b c", ["cl100k_base", "bert-wordpiece"]))
    assert table.count("\n") == 3 and "| bert-wordpiece | 3 | 3 | 1.00 | 1.67 | 0 | yes |" in table
