"""The GPT-4 (cl100k) regex pre-split: text -> chunks that BPE never merges across.

    python -m training.tokenizers.pretokenize "Hello world's 12345 numbers!!\n\n  indented"

Splitting first keeps merges inside words, numbers and punctuation runs, so a token never glues
the end of one word to the start of the next ("dog." and "dog!" share "dog"). The pattern keeps a
leading space on words, splits digits into groups of at most three, and peels English
contractions off.

>>> pre_split("Hello world's 12345 numbers!!")
['Hello', ' world', "'s", ' ', '123', '45', ' numbers', '!!']
>>> split_on_special("a<|endoftext|>b", ["<|endoftext|>"])
['a', '<|endoftext|>', 'b']
>>> chunk_counts("the cat the cat")
Counter({' cat': 2, 'the': 1, ' the': 1})
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Iterable

import regex

# tiktoken's cl100k_base split, written out: contractions | optional non-letter + letters |
# 1-3 digits | optional space + punctuation run (+ newlines) | newline runs | spaces not before
# a word | any other whitespace.
GPT4_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"
    r"|[^\r\n\p{L}\p{N}]?\p{L}+"
    r"|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+"
    r"|\s+(?!\S)"
    r"|\s+"
)
_COMPILED = regex.compile(GPT4_SPLIT_PATTERN)


def pre_split(text: str, pattern: str = GPT4_SPLIT_PATTERN) -> list[str]:
    """The chunks of `text`; joined back together they give `text` exactly."""
    compiled = _COMPILED if pattern == GPT4_SPLIT_PATTERN else regex.compile(pattern)
    return compiled.findall(text)


def split_on_special(text: str, special_tokens: Iterable[str]) -> list[str]:
    """`text` cut around every occurrence of a special token (kept as its own piece); empty
    pieces dropped. Longer special tokens win when one is a prefix of another."""
    specials = sorted(set(special_tokens), key=len, reverse=True)
    if not specials:
        return [text] if text else []
    pattern = "(" + "|".join(regex.escape(s) for s in specials) + ")"
    return [piece for piece in regex.split(pattern, text) if piece]


def chunk_counts(text: str, pattern: str = GPT4_SPLIT_PATTERN) -> Counter[str]:
    """How often each distinct chunk occurs: the trainer works on these, weighted by count."""
    return Counter(pre_split(text, pattern))


if __name__ == "__main__":
    sample = sys.argv[1].encode().decode("unicode_escape") if len(sys.argv) > 1 else "Hello world's 12345!!"
    print(pre_split(sample))
