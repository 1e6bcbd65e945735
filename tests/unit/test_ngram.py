"""Character n-gram model: exact smoothed probabilities, perplexity, seeded generation."""

from __future__ import annotations

import random

import pytest

from training.ngram import NGramModel

TEXT = "the cat sat on the mat. the cat ate the rat. " * 4


def test_known_counts_give_known_smoothed_probability():
    lm = NGramModel(order=2, k=1.0).fit("abab")
    assert lm.vocab == ["a", "b"]
    assert lm.probability("b", "a") == pytest.approx((2 + 1) / (2 + 2))   # a->b seen twice
    assert lm.probability("a", "a") == pytest.approx((0 + 1) / (2 + 2))
    assert lm.probability("a", "b") == pytest.approx((1 + 1) / (1 + 2))   # b->a once, b seen once as context
    assert lm.probability("a", "") == pytest.approx((1 + 1) / (1 + 2))    # BOS context: "a" starts the text
    assert lm.probability("b", "zz") == pytest.approx(0.5)                # unseen context -> uniform


def test_add_k_uses_k():
    lm = NGramModel(order=3, k=0.5).fit("aab")
    # context "aa" is followed by "b" once; vocab {a, b}
    assert lm.probability("b", "aa") == pytest.approx((1 + 0.5) / (1 + 0.5 * 2))


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_distribution_sums_to_one_for_every_context(order):
    lm = NGramModel(order=order).fit(TEXT)
    for history in ["", "t", "the ", "xyz", TEXT[:10]]:
        assert sum(lm.probability(c, history) for c in lm.vocab) == pytest.approx(1.0, abs=1e-12)
        assert sum(lm.distribution(history).values()) == pytest.approx(1.0, abs=1e-12)


def test_training_text_has_lower_perplexity_than_shuffled_text():
    lm = NGramModel(order=3).fit(TEXT)
    chars = list(TEXT)
    random.Random(0).shuffle(chars)
    shuffled = "".join(chars)
    assert lm.perplexity(TEXT) < 0.5 * lm.perplexity(shuffled)
    assert lm.perplexity(TEXT) < len(lm.vocab)


def test_generation_is_seeded_and_uses_the_vocabulary():
    lm = NGramModel(order=4).fit(TEXT)
    a, b = lm.generate(80, seed=3), lm.generate(80, seed=3)
    assert a == b and len(a) == 80 and set(a) <= set(lm.vocab)
    assert lm.generate(80, seed=4) != a


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="order must be at least 1"):
        NGramModel(order=0)
    with pytest.raises(ValueError, match="k must be > 0"):
        NGramModel(k=0)
    with pytest.raises(ValueError, match="call fit"):
        NGramModel().generate(5)


def test_unknown_characters_do_not_break_perplexity():
    lm = NGramModel(order=2).fit("abab")
    assert lm.perplexity("abz") > lm.perplexity("aba")


def test_docstring_examples():
    import doctest

    import training.ngram

    result = doctest.testmod(training.ngram)
    assert result.attempted > 0 and result.failed == 0
