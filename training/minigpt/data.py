"""Tokenizers and batches for mini-GPT training.

    tok = CharTokenizer.from_text("hello")          # one id per distinct character
    tok.decode(tok.encode("hello")) == "hello"
    tok = load_tokenizer("bpe:out/bpe/legal-2000", text)   # a BPE saved by training.tokenizers.bpe

Batches come from a seeded `torch.Generator`, whose state is saved in checkpoints, so a resumed
run draws exactly the batches the uninterrupted run would have drawn.
"""

from __future__ import annotations

import torch


class CharTokenizer:
    """Character-level tokenizer; characters not seen in training map to the first id."""

    kind = "char"

    def __init__(self, chars: list[str]):
        if not chars:
            raise ValueError("A character tokenizer needs at least one character: the training text is empty.")
        self.chars = list(chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(c, 0) for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def state(self) -> dict:
        return {"kind": "char", "chars": self.chars}


class BPEAdapter:
    """Wraps a tokenizer from `training.tokenizers.bpe` (loaded from its saved files)."""

    kind = "bpe"

    def __init__(self, path_prefix: str):
        try:
            from training.tokenizers.bpe import BPETokenizer
        except ImportError as exc:
            raise ValueError("tokenizer='bpe:...' needs training.tokenizers.bpe, which is not available; "
                             "use tokenizer='char'.") from exc
        self.path_prefix = path_prefix
        self.bpe = BPETokenizer.load(path_prefix)

    @property
    def vocab_size(self) -> int:
        return self.bpe.vocab_size

    def encode(self, text: str) -> list[int]:
        return self.bpe.encode(text)

    def decode(self, ids) -> str:
        return self.bpe.decode([int(i) for i in ids])

    def state(self) -> dict:
        return {"kind": "bpe", "path_prefix": self.path_prefix}


def load_tokenizer(spec: str, text: str = ""):
    """'char' (built from `text`) or 'bpe:PATH_PREFIX'."""
    if spec == "char":
        return CharTokenizer.from_text(text)
    if spec.startswith("bpe:"):
        return BPEAdapter(spec[4:])
    raise ValueError(f"Unknown tokenizer {spec!r}: use 'char' or 'bpe:PATH_PREFIX' (a BPE saved with .save(prefix)).")


def tokenizer_from_state(state: dict):
    return CharTokenizer(state["chars"]) if state["kind"] == "char" else BPEAdapter(state["path_prefix"])


def split_ids(ids: list[int], val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    data = torch.tensor(ids, dtype=torch.long)
    cut = int(len(data) * (1 - val_fraction))
    return data[:cut], data[cut:]


def get_batch(data: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator):
    """Random windows: inputs (B, T) and the same windows shifted by one as targets."""
    if len(data) <= block_size:
        raise ValueError(f"The text has {len(data)} tokens, fewer than block_size+1 = {block_size + 1}: "
                         "use more text (--max-chars) or a smaller --block-size.")
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[s:s + block_size] for s in starts.tolist()])
    y = torch.stack([data[s + 1:s + 1 + block_size] for s in starts.tolist()])
    return x, y
