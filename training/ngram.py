"""Character-level n-gram language model with add-k (Laplace) smoothing.

    python -m training.ngram --order 4 --data alice
    python -m training.ngram --order 3 --data legal --k 0.5 --sample 300 --seed 7
    python -m training.ngram --order 5 --data /path/to/text.txt --max-chars 200000

The model counts every (context, next char) pair, where the context is the previous `order - 1`
characters (the text is left-padded with BOS characters so the first characters have a context).
With add-k smoothing a context's distribution over the vocabulary V is

    P(c | ctx) = (count(ctx, c) + k) / (count(ctx) + k * |V|)

so an unseen context gives the uniform 1/|V| and every probability is positive; k = 1 is Laplace.
Probabilities and perplexity use exactly this formula. Generation alone backs off to the longest
suffix of the context that was seen in training, so one unseen context does not turn the rest of
the sample into uniform noise. Small k (the CLI default 0.1) gives a lower held-out perplexity on
the corpora here than k = 1.

    >>> lm = NGramModel(order=2, k=1.0).fit("abab")
    >>> lm.vocab
    ['a', 'b']
    >>> lm.probability("b", "a")       # "a" is followed by "b" twice: (2 + 1) / (2 + 1 * 2)
    0.75
    >>> round(sum(lm.probability(c, "a") for c in lm.vocab), 12)
    1.0
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field

BOS = "\x02"  # padding before the text; never part of the vocabulary


@dataclass
class NGramModel:
    """Counts of next characters per context; `order` = context length + 1."""

    order: int = 3
    k: float = 1.0
    vocab: list[str] = field(default_factory=list)
    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def __post_init__(self) -> None:
        if self.order < 1:
            raise ValueError(f"order must be at least 1 (1 = unigram), got {self.order}.")
        if self.k <= 0:
            raise ValueError(f"k must be > 0 so unseen characters keep a probability (1.0 = Laplace), got {self.k}.")

    def _context(self, history: str) -> str:
        width = self.order - 1
        if width == 0:
            return ""
        return (BOS * width + history)[-width:]

    def fit(self, text: str) -> "NGramModel":
        if not text:
            raise ValueError("Cannot fit an n-gram model on empty text: pass a corpus name or a non-empty file.")
        self.vocab = sorted(set(text))
        self.counts = defaultdict(Counter)
        padded = BOS * (self.order - 1) + text
        width = self.order - 1
        for i, char in enumerate(text):
            # shorter contexts too: generation backs off to them (see the module docstring)
            for start in range(i, i + width + 1):
                self.counts[padded[start:i + width]][char] += 1
        return self

    def probability(self, char: str, history: str = "") -> float:
        """P(char | the last order-1 characters of history), add-k smoothed over the vocabulary."""
        seen = self.counts.get(self._context(history))
        total = sum(seen.values()) if seen else 0
        count = seen[char] if seen else 0
        return (count + self.k) / (total + self.k * len(self.vocab))

    def distribution(self, history: str = "") -> dict[str, float]:
        return self._distribution_of(self._context(history))

    def _distribution_of(self, context: str) -> dict[str, float]:
        seen = self.counts.get(context) or Counter()
        denominator = sum(seen.values()) + self.k * len(self.vocab)
        return {c: (seen[c] + self.k) / denominator for c in self.vocab}

    def log_likelihood(self, text: str) -> float:
        """Natural-log probability of `text` from its start; characters outside the vocabulary are
        mapped to probability k / (total + k*(|V|+1)) so evaluation on new text never divides by zero."""
        total = 0.0
        for i, char in enumerate(text):
            if char in self.vocab or not self.vocab:
                total += math.log(self.probability(char, text[max(0, i - self.order + 1):i]))
            else:
                seen = self.counts.get(self._context(text[:i])) or Counter()
                total += math.log(self.k / (sum(seen.values()) + self.k * (len(self.vocab) + 1)))
        return total

    def perplexity(self, text: str) -> float:
        """exp(-mean log P(char | context)) over the characters of `text`."""
        if not text:
            raise ValueError("Perplexity needs at least one character of text.")
        return math.exp(-self.log_likelihood(text) / len(text))

    def generate(self, length: int = 200, *, seed: int | None = 0, prompt: str = "", temperature: float = 1.0) -> str:
        """Sample `length` characters after `prompt`; the same seed gives the same text."""
        if not self.vocab:
            raise ValueError("The model is not trained yet: call fit(text) first.")
        if temperature <= 0:
            raise ValueError("temperature must be > 0.")
        rng = random.Random(seed)
        out = prompt
        for _ in range(length):
            dist = self._distribution_of(self._seen_suffix(out))
            weights = [p ** (1.0 / temperature) for p in dist.values()]
            out += rng.choices(list(dist), weights=weights)[0]
        return out[len(prompt):]

    def _seen_suffix(self, history: str) -> str:
        """The longest suffix of the history's context that was seen in training ("" at worst)."""
        context = self._context(history)
        while context and context not in self.counts:
            context = context[1:]
        return context

    def summary(self) -> dict:
        width = self.order - 1
        return {"order": self.order, "k": self.k, "vocab_size": len(self.vocab),
                "contexts": sum(1 for c in self.counts if len(c) == width)}


def train_test_split(text: str, test_fraction: float = 0.1) -> tuple[str, str]:
    cut = int(len(text) * (1 - test_fraction))
    return text[:cut], text[cut:]


def main(argv: list[str] | None = None) -> int:
    from training.corpora import CorpusError, load_corpus

    parser = argparse.ArgumentParser(prog="python -m training.ngram", description=__doc__.splitlines()[0])
    parser.add_argument("--order", type=int, default=4, help="n: context of n-1 characters (default 4)")
    parser.add_argument("--data", default="alice", help="corpus name (alice, legal, ...) or path to a text file")
    parser.add_argument("--k", type=float, default=0.1, help="add-k smoothing constant (default 0.1; 1 = Laplace)")
    parser.add_argument("--max-chars", type=int, default=None, help="read only this many characters")
    parser.add_argument("--sample", type=int, default=200, help="characters to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt", default="")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    try:
        text = load_corpus(args.data, max_chars=args.max_chars)
        train, test = train_test_split(text)
        lm = NGramModel(order=args.order, k=args.k).fit(train)
    except (CorpusError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = {**lm.summary(), "data": args.data, "train_chars": len(train), "test_chars": len(test),
              "train_perplexity": round(lm.perplexity(train[:50_000]), 3), "test_perplexity": round(lm.perplexity(test), 3),
              "sample": lm.generate(args.sample, seed=args.seed, prompt=args.prompt)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.order}-gram on {args.data}: vocab {result['vocab_size']}, {result['contexts']} contexts, "
              f"perplexity train {result['train_perplexity']} / held-out {result['test_perplexity']}")
        print("--- sample ---")
        print(args.prompt + result["sample"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
