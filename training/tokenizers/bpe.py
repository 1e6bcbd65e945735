"""Byte-level BPE from scratch: a trainer with incremental pair counts, and the tokenizer it makes.

    python -m training.tokenizers.bpe --data legal --vocab-size 2000 --out .hearth/tokenizers/legal-2000
    python -m training.tokenizers.bpe --data path/to/text.txt --vocab-size 4096 --special "<|endoftext|>"

    from training.tokenizers.bpe import BPETokenizer, train_bpe
    tok = train_bpe(text, vocab_size=2000, special_tokens=["<|endoftext|>"])
    ids = tok.encode("Roe v. Wade, 410 U.S. 113 (1973)<|endoftext|>", allowed_special="all")
    assert tok.decode(ids) == "Roe v. Wade, 410 U.S. 113 (1973)<|endoftext|>"
    model, vocab = tok.save(".hearth/tokenizers/mine")    # mine.model (load it), mine.vocab (read it)
    tok = BPETokenizer.load(model)

The vocabulary starts as the 256 byte values, so any text (emoji, CJK, code) encodes and decodes
exactly. Training pre-splits the text with the GPT-4 regex (`pretokenize`), then repeatedly merges
the most frequent adjacent pair of tokens into a new token. Ties go to the smallest pair of ids.

Why it is fast: the text is reduced to its distinct chunks with their counts (a 1 MB corpus has
~40k distinct chunks), and after a merge only the chunks that contain the merged pair are
recounted. `pair_count` (pair -> weighted count) and `pair_chunks` (pair -> chunks holding it) are
updated in place and a heap with lazy deletion yields the most frequent pair. `naive_bpe` is the
textbook version that recounts everything after every merge; both learn the same merges.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Iterable, Mapping

from training.tokenizers.pretokenize import GPT4_SPLIT_PATTERN, pre_split, split_on_special

Pair = tuple[int, int]
Progress = Callable[[int, int], None]
BYTE_TOKENS = 256
MODEL_SUFFIX, VOCAB_SUFFIX = ".model", ".vocab"
FORMAT_NAME = "hearth-bpe"


def count_pairs(ids: list[int]) -> Counter[Pair]:
    """Adjacent pairs and how often they occur (overlaps count).

    >>> count_pairs([1, 2, 3, 1, 2])
    Counter({(1, 2): 2, (2, 3): 1, (3, 1): 1})
    """
    return Counter(zip(ids, ids[1:]))


def merge_pair(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """`ids` with every non-overlapping occurrence of `pair` (left to right) replaced by `new_id`.

    >>> merge_pair([1, 2, 3, 1, 2], (1, 2), 4)
    [4, 3, 4]
    >>> merge_pair([7, 7, 7], (7, 7), 8)
    [8, 7]
    """
    first, second = pair
    merged, i, n = [], 0, len(ids)
    while i < n:
        if i < n - 1 and ids[i] == first and ids[i + 1] == second:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


def training_chunks(text: str, special_tokens: Iterable[str] = (), pattern: str = GPT4_SPLIT_PATTERN) -> Counter[str]:
    """The distinct pre-split chunks of `text` with their counts; special tokens are cut out
    first so that they are never learned as ordinary text."""
    specials = set(special_tokens)
    counts: Counter[str] = Counter()
    for piece in split_on_special(text, specials):
        if piece not in specials:
            counts.update(pre_split(piece, pattern))
    return counts


def learn_merges(chunk_counts: Mapping[str, int], num_merges: int, progress: Progress | None = None) -> list[Pair]:
    """The first `num_merges` BPE merges of a weighted set of chunks (fewer when no pair is
    left). Merge k creates token id 256 + k.

    >>> learn_merges({"aab": 3, "ab": 2}, 2)   # "ab" occurs 5 times, then "a"+"ab" 3 times
    [(97, 98), (97, 256)]
    """
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    weights = list(chunk_counts.values())
    pair_count: dict[Pair, int] = defaultdict(int)
    pair_chunks: dict[Pair, set[int]] = defaultdict(set)
    for index, (word, weight) in enumerate(zip(words, weights)):
        for pair in zip(word, word[1:]):
            pair_count[pair] += weight
            pair_chunks[pair].add(index)
    heap = [(-count, pair) for pair, count in pair_count.items()]
    heapq.heapify(heap)

    merges: list[Pair] = []
    while len(merges) < num_merges and heap:
        negative_count, pair = heapq.heappop(heap)
        if pair_count.get(pair) != -negative_count:
            continue  # stale heap entry: this pair's count changed since it was pushed
        new_id = BYTE_TOKENS + len(merges)
        merges.append(pair)
        delta: dict[Pair, int] = defaultdict(int)
        for index in pair_chunks.pop(pair, ()):
            word = words[index]
            merged = merge_pair(word, pair, new_id)
            if len(merged) == len(word):
                continue  # stale index entry: an earlier merge already consumed the pair here
            weight = weights[index]
            old_pairs, new_pairs = list(zip(word, word[1:])), list(zip(merged, merged[1:]))
            for old in old_pairs:
                delta[old] -= weight
            for new in new_pairs:
                delta[new] += weight
                pair_chunks[new].add(index)
            for gone in set(old_pairs).difference(new_pairs):
                if gone != pair and gone in pair_chunks:
                    pair_chunks[gone].discard(index)
            words[index] = merged
        for changed, difference in delta.items():
            if not difference:
                continue
            count = pair_count[changed] + difference
            if count > 0:
                pair_count[changed] = count
                heapq.heappush(heap, (-count, changed))
            else:
                del pair_count[changed]
                pair_chunks.pop(changed, None)
        pair_count.pop(pair, None)
        if progress:
            progress(len(merges), num_merges)
    return merges


def merges_for_vocab_size(vocab_size: int, special_tokens: list[str]) -> int:
    num_merges = vocab_size - BYTE_TOKENS - len(special_tokens)
    if num_merges < 0:
        raise ValueError(f"vocab_size={vocab_size} is too small: it must cover the 256 byte tokens plus "
                         f"{len(special_tokens)} special token(s). "
                         f"Use vocab_size >= {BYTE_TOKENS + len(special_tokens)}.")
    return num_merges


def train_bpe(text: str, vocab_size: int, *, special_tokens: list[str] | None = None,
              progress: Progress | None = None) -> BPETokenizer:
    """Train a byte-level BPE tokenizer with `vocab_size` tokens in all (256 bytes + merges +
    special tokens). `progress(done_merges, total_merges)` is called after every merge."""
    specials = list(dict.fromkeys(special_tokens or []))
    num_merges = merges_for_vocab_size(vocab_size, specials)
    if not text:
        raise ValueError("train_bpe got an empty text: pass the training corpus, "
                         "e.g. training.corpora.load_corpus('legal').")
    merges = learn_merges(training_chunks(text, specials), num_merges, progress)
    return BPETokenizer(merges, specials)


def render_token(token: bytes) -> str:
    """Printable form of a token's bytes: invalid UTF-8 as \\xNN, control characters escaped.

    >>> render_token(b" the"), render_token(b"\\n"), render_token(b"\\xe2\\x82")
    (' the', '\\\\u000a', '\\\\xe2\\\\x82')
    """
    text = token.decode("utf-8", errors="backslashreplace")
    return "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch).startswith("C") else ch for ch in text)


class BPETokenizer:
    """A trained byte-level BPE tokenizer: ordered merges + special tokens + the split pattern."""

    def __init__(self, merges: list[Pair], special_tokens: Iterable[str] = (), pattern: str = GPT4_SPLIT_PATTERN):
        self.merges = [tuple(pair) for pair in merges]
        self.pattern = pattern
        self.ranks: dict[Pair, int] = {pair: BYTE_TOKENS + rank for rank, pair in enumerate(self.merges)}
        self.vocab: list[bytes] = [bytes([b]) for b in range(BYTE_TOKENS)]
        for first, second in self.merges:
            self.vocab.append(self.vocab[first] + self.vocab[second])
        self.special_tokens: dict[str, int] = {
            token: len(self.vocab) + i for i, token in enumerate(dict.fromkeys(special_tokens))}
        self.special_by_id = {i: token for token, i in self.special_tokens.items()}
        self._chunk_cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + len(self.special_tokens)

    def _encode_chunk(self, chunk: str) -> list[int]:
        cached = self._chunk_cache.get(chunk)
        if cached is not None:
            return cached
        ids = list(chunk.encode("utf-8"))
        ranks = self.ranks
        while len(ids) >= 2:
            # Merging the lowest-ranked pair first replays the training order exactly.
            best = min(zip(ids, ids[1:]), key=lambda pair: ranks.get(pair, 1 << 60))
            if best not in ranks:
                break
            ids = merge_pair(ids, best, ranks[best])
        if len(self._chunk_cache) < 200_000:
            self._chunk_cache[chunk] = ids
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of `text`, with special-token strings treated as plain text."""
        ids: list[int] = []
        for chunk in pre_split(text, self.pattern):
            ids.extend(self._encode_chunk(chunk))
        return ids

    def encode(self, text: str, allowed_special: str | set[str] | frozenset[str] = "none_raise") -> list[int]:
        """Token ids of `text`.

        allowed_special: "none_raise" (default) raises if the text contains a special token;
        "none" encodes special-token strings as plain text; "all" encodes every special token
        as its id; a set encodes those as ids and raises on any other special token found.
        """
        if allowed_special == "none":
            return self.encode_ordinary(text)
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        elif allowed_special == "none_raise":
            allowed = set()
        elif isinstance(allowed_special, (set, frozenset, list, tuple)):
            allowed = set(allowed_special)
            unknown = allowed - set(self.special_tokens)
            if unknown:
                raise ValueError(f"allowed_special names {sorted(unknown)}, which this tokenizer does not have; "
                                 f"its special tokens are {sorted(self.special_tokens) or 'none'}.")
        else:
            raise ValueError(f"allowed_special={allowed_special!r}: use 'none_raise', 'none', 'all' or a set of "
                             "special-token strings.")
        disallowed = [token for token in self.special_tokens if token not in allowed and token in text]
        if disallowed:
            raise ValueError(f"The text contains the special token {disallowed[0]!r}. Pass allowed_special="
                             f"{{{disallowed[0]!r}}} (or 'all') to encode it as one special token, or "
                             "allowed_special='none' to encode it as plain text.")
        ids: list[int] = []
        for piece in split_on_special(text, allowed):
            if piece in allowed:
                ids.append(self.special_tokens[piece])
            else:
                ids.extend(self.encode_ordinary(piece))
        return ids

    def token_bytes(self, token_id: int) -> bytes:
        if 0 <= token_id < len(self.vocab):
            return self.vocab[token_id]
        if token_id in self.special_by_id:
            return self.special_by_id[token_id].encode("utf-8")
        raise ValueError(f"Token id {token_id} is outside this tokenizer's vocabulary (0..{self.vocab_size - 1}).")

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        return b"".join(self.token_bytes(i) for i in ids)

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`; a cut through a multi-byte character shows as U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def save(self, path_prefix: str | Path) -> list[Path]:
        """Write PREFIX.model (JSON, the file `load` reads) and PREFIX.vocab (for people:
        one token per line, merges shown as strings). Returns both paths."""
        prefix = Path(path_prefix)
        if prefix.suffix in (MODEL_SUFFIX, VOCAB_SUFFIX):
            prefix = prefix.with_suffix("")
        prefix.parent.mkdir(parents=True, exist_ok=True)
        model_path, vocab_path = Path(f"{prefix}{MODEL_SUFFIX}"), Path(f"{prefix}{VOCAB_SUFFIX}")
        model = {"format": FORMAT_NAME, "version": 1, "pattern": self.pattern,
                 "special_tokens": self.special_tokens, "merges": [list(pair) for pair in self.merges]}
        model_path.write_text(json.dumps(model, ensure_ascii=False), encoding="utf-8")
        lines = [f"# {self.vocab_size} tokens: 256 bytes, {len(self.merges)} merges, "
                 f"{len(self.special_tokens)} special. id<TAB>[left][right] -> [token]"]
        lines += [f"{i}\t[{render_token(self.vocab[i])}]" for i in range(BYTE_TOKENS)]
        for rank, (first, second) in enumerate(self.merges):
            token_id = BYTE_TOKENS + rank
            lines.append(f"{token_id}\t[{render_token(self.vocab[first])}][{render_token(self.vocab[second])}]"
                         f" -> [{render_token(self.vocab[token_id])}]")
        lines += [f"{i}\t{token} (special)" for token, i in self.special_tokens.items()]
        vocab_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return [model_path, vocab_path]

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        """Load a PREFIX.model file written by `save` (PREFIX alone works too)."""
        path = Path(path)
        if path.suffix == VOCAB_SUFFIX:
            raise ValueError(f"{str(path)!r} is the human-readable vocabulary; load "
                             f"{str(path.with_suffix(MODEL_SUFFIX))!r} instead.")
        if not path.is_file() and Path(f"{path}{MODEL_SUFFIX}").is_file():
            path = Path(f"{path}{MODEL_SUFFIX}")
        if not path.is_file():
            raise FileNotFoundError(f"No BPE model at {str(path)!r}. Train one with "
                                    f"`python -m training.tokenizers.bpe --out {path.with_suffix('')}`.")
        try:
            model = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{str(path)!r} is not a {FORMAT_NAME} model file (JSON): {exc}") from exc
        if not isinstance(model, dict) or model.get("format") != FORMAT_NAME:
            raise ValueError(f"{str(path)!r} is not a {FORMAT_NAME} model file; write one with BPETokenizer.save.")
        tokenizer = cls([tuple(pair) for pair in model["merges"]], list(model["special_tokens"]), model["pattern"])
        if tokenizer.special_tokens != model["special_tokens"]:
            raise ValueError(f"{str(path)!r} has inconsistent special-token ids; re-save the tokenizer.")
        return tokenizer

    def __repr__(self) -> str:
        return (f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
                f"special={list(self.special_tokens)})")


def main(argv: list[str] | None = None) -> None:
    from tqdm import tqdm

    import models  # noqa: F401  (offline switches; TIKTOKEN_CACHE_DIR for the comparison)
    from training.corpora import load_corpus

    parser = argparse.ArgumentParser(prog="python -m training.tokenizers.bpe",
                                     description="Train a byte-level BPE tokenizer")
    parser.add_argument("--data", default="legal",
                        help="corpus name (legal, alice, xquad_en, ...) or a text file/folder")
    parser.add_argument("--max-chars", type=int, default=None, help="train on the first N characters only")
    parser.add_argument("--vocab-size", type=int, default=2000)
    parser.add_argument("--special", action="append", default=[],
                        help="a special token, e.g. '<|endoftext|>' (repeatable)")
    parser.add_argument("--out", default=None,
                        help="path prefix for .model/.vocab (default .hearth/tokenizers/<data>-<vocab>)")
    args = parser.parse_args(argv)

    text = load_corpus(args.data, max_chars=args.max_chars)
    with tqdm(total=max(0, args.vocab_size - BYTE_TOKENS - len(args.special)), desc="merges", unit="merge",
              file=sys.stderr) as bar:
        tokenizer = train_bpe(text, args.vocab_size, special_tokens=args.special,
                              progress=lambda done, total: bar.update(done - bar.n))
    if args.out is None:
        from models.settings import data_home
        args.out = data_home() / "tokenizers" / f"{Path(args.data).stem}-{args.vocab_size}"
    for path in tokenizer.save(args.out):
        print(f"wrote {path}")
    ids = tokenizer.encode_ordinary(text)
    print(f"{tokenizer}: {len(text) / len(ids):.2f} characters per token on the training text")
    try:
        import tiktoken

        reference = len(tiktoken.get_encoding("cl100k_base").encode_ordinary(text))
        print(f"cl100k_base: {len(text) / reference:.2f} characters per token on the same text")
    except Exception as exc:  # the comparison is a courtesy; training already succeeded
        print(f"(cl100k_base comparison skipped: {exc})")


if __name__ == "__main__":
    main()
