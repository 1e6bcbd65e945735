"""Byte-level BPE: exact round trips, the incremental trainer against the naive one, save/load,
special tokens, and the GPT-4 pre-split against tiktoken's own pattern."""

from __future__ import annotations

import doctest
import json

import pytest

import training.tokenizers.bpe as bpe
import training.tokenizers.naive_bpe as naive_bpe
import training.tokenizers.pretokenize as pretokenize
from training.corpora import load_corpus
from training.tokenizers.bpe import BPETokenizer, learn_merges, train_bpe, training_chunks
from training.tokenizers.naive_bpe import naive_learn_merges, naive_train_bpe
from training.tokenizers.pretokenize import pre_split

PROBES = {
    "emoji": "Family 👨‍👩‍👧‍👦, flags 🇩🇪🇺🇸, wave 👋🏽 and a lone 🦙!",
    "code": "def f(x: int) -> int:\n\treturn x ** 2  # square\r\n\nprint({'a': [1, 2]})\n",
    "cjk": "東京は日本の首都です。北京是中国的首都。서울은 한국의 수도입니다.",
    "german": "Die Straße über dem Fluß: Änderungen vorbehalten, Grüße aus Köln!",
    "whitespace": "  lead\n\n\n   trail   \t\r\nnbsp\u00a0em\u2003 ",
    "specials as text": "a <|endoftext|> b <|fim|>",
}


@pytest.fixture(scope="module")
def legal_text() -> str:
    return load_corpus("legal", max_chars=12_000)


@pytest.fixture(scope="module")
def tokenizer(legal_text) -> BPETokenizer:
    return train_bpe(legal_text, 400, special_tokens=["<|endoftext|>"])


@pytest.mark.parametrize("module", [bpe, naive_bpe, pretokenize])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_round_trip_is_exact_on_text_never_seen_in_training(tokenizer, probe):
    text = PROBES[probe]
    ids = tokenizer.encode(text, allowed_special="none")
    assert tokenizer.decode(ids) == text
    assert all(0 <= i < tokenizer.vocab_size for i in ids)


def test_training_compresses_its_own_domain(tokenizer, legal_text):
    ids = tokenizer.encode(legal_text)
    assert tokenizer.decode(ids) == legal_text
    assert len(legal_text.encode("utf-8")) / len(ids) > 1.8  # 143 merges already save almost half the tokens
    assert len(tokenizer.encode(" the")) == 1 and len(tokenizer.encode(" court")) < len(" court")


def test_vocab_size_counts_bytes_merges_and_special_tokens(tokenizer):
    assert tokenizer.vocab_size == 400
    assert len(tokenizer.merges) == 400 - 256 - 1
    assert tokenizer.special_tokens == {"<|endoftext|>": 399}


def test_too_small_vocab_size_names_the_minimum():
    with pytest.raises(ValueError, match="vocab_size >= 257"):
        train_bpe("some text", 256, special_tokens=["<|endoftext|>"])


def test_incremental_trainer_learns_the_same_merges_as_the_naive_one(legal_text):
    text = legal_text[:2_000] + " aaaa aaaaa aaaaaa bbbabab 1111111 " + PROBES["german"]  # overlaps, ties
    chunks = training_chunks(text)
    assert learn_merges(chunks, 200) == naive_learn_merges(chunks, 200)


def test_both_trainers_stop_when_no_pair_is_left():
    chunks = training_chunks("ab ab abc")
    assert learn_merges(chunks, 100) == naive_learn_merges(chunks, 100)
    assert len(learn_merges(chunks, 100)) < 100
    assert naive_train_bpe("ab ab abc", 300).merges == train_bpe("ab ab abc", 300).merges


def test_progress_reports_every_merge(legal_text):
    calls = []
    train_bpe(legal_text[:3000], 300, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 44) for i in range(1, 45)]


def test_saved_model_loads_with_identical_encodings(tokenizer, legal_text, tmp_path):
    model_path, vocab_path = tokenizer.save(tmp_path / "legal")
    assert (model_path.name, vocab_path.name) == ("legal.model", "legal.vocab")
    loaded = BPETokenizer.load(model_path)
    assert BPETokenizer.load(tmp_path / "legal").merges == loaded.merges  # the prefix alone works too
    for text in [legal_text[-2000:], *PROBES.values()]:
        assert loaded.encode(text, allowed_special="none") == tokenizer.encode(text, allowed_special="none")
    assert loaded.special_tokens == tokenizer.special_tokens
    vocab = vocab_path.read_text(encoding="utf-8")
    first, second = tokenizer.merges[0]
    assert f"256\t[{tokenizer.vocab[first].decode()}][{tokenizer.vocab[second].decode()}] -> " in vocab
    assert "-> [ the]" in vocab  # merges shown as strings
    assert "399\t<|endoftext|> (special)" in vocab


def test_load_explains_wrong_files(tokenizer, tmp_path):
    _, vocab_path = tokenizer.save(tmp_path / "m")
    with pytest.raises(ValueError, match=r"load .*m\.model"):
        BPETokenizer.load(vocab_path)
    with pytest.raises(FileNotFoundError, match="python -m training.tokenizers.bpe"):
        BPETokenizer.load(tmp_path / "missing.model")
    other = tmp_path / "other.model"
    other.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a hearth-bpe model"):
        BPETokenizer.load(other)


def test_special_tokens_need_permission(tokenizer):
    text = "end of doc<|endoftext|>next"
    with pytest.raises(ValueError, match="allowed_special"):
        tokenizer.encode(text)
    special = tokenizer.encode(text, allowed_special="all")
    assert special.count(399) == 1 and tokenizer.decode(special) == text
    assert tokenizer.encode(text, allowed_special={"<|endoftext|>"}) == special
    plain = tokenizer.encode(text, allowed_special="none")
    assert 399 not in plain and tokenizer.decode(plain) == text
    with pytest.raises(ValueError, match="does not have"):
        tokenizer.encode(text, allowed_special={"<|unknown|>"})


def test_special_tokens_are_never_learned_from_the_text():
    text = "<|endoftext|>" * 50 + "hello hello"
    tok = train_bpe(text, 270, special_tokens=["<|endoftext|>"])
    assert all(b"|" not in token for token in tok.vocab[256:])


def test_decode_rejects_ids_outside_the_vocabulary(tokenizer):
    with pytest.raises(ValueError, match="outside this tokenizer's vocabulary"):
        tokenizer.decode([tokenizer.vocab_size])


def test_pre_split_matches_tiktoken_cl100k(legal_text):
    import regex
    import tiktoken

    tiktoken_pattern = regex.compile(tiktoken.get_encoding("cl100k_base")._pat_str)
    for text in [legal_text, *PROBES.values()]:
        assert pre_split(text) == tiktoken_pattern.findall(text)


def test_compression_matches_hugging_face_bpe_at_equal_vocabulary(legal_text):
    from evals.tokenizers import hugging_face_bpe

    train, held_out = legal_text[:9000], legal_text[9000:]
    hf, trainer = hugging_face_bpe(400)
    hf.train_from_iterator([train], trainer)
    ours = train_bpe(train, 400)
    assert hf.decode(hf.encode(held_out).ids) == held_out
    ratio = len(ours.encode(held_out)) / len(hf.encode(held_out).ids)
    assert 0.98 <= ratio <= 1.02
