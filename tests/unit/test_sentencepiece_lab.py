"""SentencePiece on English + German: training in-process, unknown rates per language, save/load."""

from __future__ import annotations

import doctest

import pytest

import training.tokenizers.sentencepiece_lab as sentencepiece_lab
from training.corpora import load_corpus
from training.tokenizers.sentencepiece_lab import (MAX_SENTENCE_BYTES, load_sentencepiece, split_held_out,
                                                   split_sentences, train_sentencepiece, unknown_rates)

UNSEEN_SCRIPTS = "Grüße 👋🏽 東京 서울 ∮ ok"


@pytest.fixture(scope="module")
def corpora() -> dict[str, tuple[str, str]]:
    return {lang: split_held_out(load_corpus(name, max_chars=25_000), 0.2)
            for lang, name in {"en": "xquad_en", "de": "xquad_de"}.items()}


@pytest.fixture(scope="module")
def processor(corpora, tmp_path_factory):
    prefix = tmp_path_factory.mktemp("sp") / "en-de"
    sp = train_sentencepiece([train for train, _ in corpora.values()], 500, model_type="bpe", out_prefix=prefix)
    sp.saved_prefix = prefix
    return sp


def test_docstring_examples():
    result = doctest.testmod(sentencepiece_lab)
    assert result.attempted > 0 and result.failed == 0


def test_unknown_rates_per_language(processor, corpora):
    reports = unknown_rates(processor, {lang: held for lang, (_, held) in corpora.items()} | {"other": UNSEEN_SCRIPTS})
    by_language = {r.language: r for r in reports}
    assert list(by_language) == ["en", "de", "other"]
    for lang in ("en", "de"):
        assert by_language[lang].tokens > 1000
        assert by_language[lang].unknown_rate < 0.01  # its own languages are covered
        assert 1.5 < by_language[lang].chars_per_token < 6
    [plain] = unknown_rates(processor, {"plain": "The city is large.\n\n  It has   a river in the north."})
    assert plain.unknown_tokens == 0 and plain.round_trip_ignoring_whitespace
    assert not plain.round_trip_exact  # SentencePiece normalises newlines and runs of spaces
    other = by_language["other"]
    assert other.unknown_tokens >= 3 and not other.round_trip_exact and not other.round_trip_ignoring_whitespace
    assert "👋🏽" in "".join(other.unknown_examples) or "👋" in "".join(other.unknown_examples)
    assert other.unknown_rate == other.unknown_tokens / other.tokens


def test_byte_fallback_removes_unknowns(corpora):
    sp = train_sentencepiece([train for train, _ in corpora.values()], 600, model_type="bpe", byte_fallback=True)
    [report] = unknown_rates(sp, {"other": UNSEEN_SCRIPTS})
    assert report.unknown_tokens == 0 and report.round_trip_exact


def test_saved_model_loads_with_identical_encodings(processor, corpora):
    prefix = processor.saved_prefix
    loaded = load_sentencepiece(f"{prefix}.model")
    text = corpora["de"][1][:2000]
    assert loaded.encode(text) == processor.encode(text)
    vocab_lines = (prefix.parent / f"{prefix.name}.vocab").read_text(encoding="utf-8").splitlines()
    assert len(vocab_lines) == processor.get_piece_size() and vocab_lines[0].startswith("<unk>\t")


def test_bad_arguments_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="unigram, bpe"):
        train_sentencepiece(["text"], 100, model_type="wordpiece")
    with pytest.raises(ValueError, match="no text"):
        train_sentencepiece(["", "  "], 100)
    with pytest.raises(FileNotFoundError, match="sentencepiece_lab --out"):
        load_sentencepiece(tmp_path / "nope.model")


def test_long_lines_are_cut_below_the_sentencepiece_limit():
    pieces = list(split_sentences("word " * 3000))
    assert len(pieces) > 1 and all(len(p.encode()) <= MAX_SENTENCE_BYTES for p in pieces)
    assert " ".join(pieces).split() == ["word"] * 3000
