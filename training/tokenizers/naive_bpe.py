"""The textbook BPE trainer: recount every pair of every chunk after every merge.

    python -m evals.tokenizers --naive-bytes 50000      # how much slower it is than training.tokenizers.bpe

Kept only as the reference the fast trainer is checked against (same merges, same tie-break:
highest count, then the smallest pair of ids) and as the baseline of the benchmark. It works on
the same distinct chunks weighted by count, so the speedup measured against it is the
incremental pair counting alone.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping

from training.tokenizers.bpe import (BYTE_TOKENS, BPETokenizer, Pair, Progress, merge_pair,
                                     merges_for_vocab_size, training_chunks)

__all__ = ["naive_learn_merges", "naive_train_bpe"]


def naive_learn_merges(chunk_counts: Mapping[str, int], num_merges: int,
                       progress: Progress | None = None) -> list[Pair]:
    """Same contract as `bpe.learn_merges`, O(corpus) work per merge.

    >>> naive_learn_merges({"aab": 3, "ab": 2}, 2)
    [(97, 98), (97, 256)]
    """
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    weights = list(chunk_counts.values())
    merges: list[Pair] = []
    for step in range(num_merges):
        pair_count: dict[Pair, int] = defaultdict(int)
        for word, weight in zip(words, weights):
            for pair in zip(word, word[1:]):
                pair_count[pair] += weight
        if not pair_count:
            break
        best = min(pair_count, key=lambda pair: (-pair_count[pair], pair))
        new_id = BYTE_TOKENS + step
        words = [merge_pair(word, best, new_id) for word in words]
        merges.append(best)
        if progress:
            progress(len(merges), num_merges)
    return merges


def naive_train_bpe(text: str, vocab_size: int, *, special_tokens: list[str] | None = None,
                    progress: Progress | None = None) -> BPETokenizer:
    """`bpe.train_bpe` with the naive trainer inside (for tests and the benchmark only)."""
    specials = list(dict.fromkeys(special_tokens or []))
    merges = naive_learn_merges(training_chunks(text, specials), merges_for_vocab_size(vocab_size, specials), progress)
    return BPETokenizer(merges, specials)
