"""A small decoder-only transformer (GPT) written from its parts, for CPU-sized experiments.

    from training.minigpt.model import GPT, GPTConfig
    model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=4, n_embd=64, position="rope"))
    logits, loss = model(idx, targets)                 # idx: (batch, time) token ids
    out = model.generate(idx, 100, temperature=0.8, top_k=20, seed=0)   # KV-cached sampling

Blocks are pre-norm (x + attn(ln(x)), x + mlp(ln(x))). Attention is multi-head causal
self-attention; its scores go through `F.scaled_dot_product_attention` with an explicit additive
mask that holds both the causal -inf entries and, for ALiBi, the distance penalty. Position
encodings (`position=`):

- `sinusoidal`: fixed sin/cos vectors added to the token embeddings (Vaswani et al., 2017).
- `learned`: a trained vector per position, so at most `block_size` positions exist.
- `rope`: rotary embeddings rotate each query/key pair of channels by an angle proportional to
  its position, so q·k depends on the distance only (Su et al., 2021, RoFormer).
- `alibi`: no position vectors; each head adds -slope * distance to its scores, with slopes
  2^(-8h/H) (Press et al., 2022, "Train Short, Test Long").

RoPE, ALiBi and sinusoidal are defined at any position, so the model can be evaluated on longer
windows than it was trained on; `training.minigpt.study` measures what happens then.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

POSITIONS = ("sinusoidal", "learned", "rope", "alibi")


@dataclass
class GPTConfig:
    vocab_size: int = 128
    block_size: int = 64          # training context length (tokens)
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    position: str = "rope"        # sinusoidal | learned | rope | alibi

    def __post_init__(self) -> None:
        if self.position not in POSITIONS:
            raise ValueError(f"position must be one of {', '.join(POSITIONS)}, got {self.position!r}.")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}).")
        if self.position == "rope" and (self.n_embd // self.n_head) % 2:
            raise ValueError("RoPE needs an even head size (n_embd / n_head); change n_embd or n_head.")

    def to_dict(self) -> dict:
        return asdict(self)


def sinusoidal_table(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """(len(positions), dim) table: sin on even channels, cos on odd ones, wavelengths 2π..10000·2π."""
    freqs = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    angles = positions.float()[:, None] * freqs[None, :]
    table = torch.zeros(len(positions), dim)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : dim // 2])
    return table


def rotate_half_pairs(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Apply RoPE to x of shape (batch, heads, time, head_dim) at the given absolute positions."""
    head_dim = x.shape[-1]
    inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=x.device) / head_dim))
    angles = positions.float()[:, None] * inv_freq[None, :]          # (time, head_dim/2)
    cos, sin = angles.cos(), angles.sin()
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return rotated.flatten(-2)


def alibi_slopes(n_head: int) -> torch.Tensor:
    """Per-head slopes 2^(-8/n), 2^(-16/n), ... (geometric, as in the ALiBi paper; exact for powers of 2).

    >>> alibi_slopes(4).tolist()
    [0.25, 0.0625, 0.015625, 0.00390625]
    """
    return torch.tensor([2 ** (-8.0 * (h + 1) / n_head) for h in range(n_head)])


def attention_mask(query_pos: torch.Tensor, key_pos: torch.Tensor, slopes: torch.Tensor | None) -> torch.Tensor:
    """Additive mask (heads or 1, T_q, T_k): -inf where a key lies in the query's future,
    minus slope·distance for ALiBi."""
    distance = (query_pos[:, None] - key_pos[None, :]).float()      # >= 0 for visible keys
    mask = torch.zeros_like(distance).masked_fill(distance < 0, float("-inf"))[None]
    if slopes is not None:
        mask = mask - slopes[:, None, None] * distance.clamp(min=0)[None]
    return mask


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.head_dim = config.n_head, config.n_embd // config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout
        self.position = config.position
        if config.position == "alibi":
            self.register_buffer("slopes", alibi_slopes(config.n_head), persistent=False)
        else:
            self.slopes = None

    def forward(self, x: torch.Tensor, positions: torch.Tensor, cache: tuple | None = None):
        """x: (B, T, C) at absolute `positions` (T,); cache: (keys, values) of earlier positions.
        Returns the output and the updated (keys, values)."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, self.head_dim).transpose(1, 2) for t in (q, k, v))
        if self.position == "rope":
            q, k = rotate_half_pairs(q, positions), rotate_half_pairs(k, positions)
        if cache is not None:
            k, v = torch.cat((cache[0], k), dim=2), torch.cat((cache[1], v), dim=2)
        key_positions = torch.arange(k.shape[2], device=x.device) + (positions[0] - (k.shape[2] - T))
        mask = attention_mask(positions, key_positions, self.slopes).to(q.dtype)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y), (k, v)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.up = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.down = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.down(F.gelu(self.up(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_attn = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_mlp = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x, positions, cache=None):
        attended, cache = self.attn(self.ln_attn(x), positions, cache)
        x = x + attended
        return x + self.mlp(self.ln_mlp(x)), cache


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding = nn.Embedding(config.block_size, config.n_embd) if config.position == "learned" else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_final = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.token_embedding.weight  # weight tying
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def max_positions(self) -> int | None:
        """Longest sequence the model can read in one pass (None = unbounded)."""
        return self.config.block_size if self.config.position == "learned" else None

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, *, start: int = 0, caches: list | None = None):
        """Logits (B, T, vocab) and the mean cross-entropy when targets are given.
        With `caches` (one (k, v) per block, or None entries) the new keys/values are appended
        and the list is updated in place; `start` is the absolute position of idx[:, 0]."""
        B, T = idx.shape
        limit = self.max_positions()
        if limit is not None and start + T > limit:
            raise ValueError(f"Sequence of {start + T} tokens is longer than the {limit} learned positions; "
                             "crop the input or use position='rope'|'alibi'|'sinusoidal'.")
        positions = torch.arange(start, start + T, device=idx.device)
        x = self.token_embedding(idx)
        if self.config.position == "learned":
            x = x + self.position_embedding(positions)
        elif self.config.position == "sinusoidal":
            x = x + sinusoidal_table(positions, self.config.n_embd).to(x.device)
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x, kv = block(x, positions, caches[i] if caches is not None else None)
            if caches is not None:
                caches[i] = kv
        logits = self.lm_head(self.ln_final(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0, top_k: int | None = None,
                 use_cache: bool = True, seed: int | None = None) -> torch.Tensor:
        """Append `max_new_tokens` sampled tokens to idx (B, T). temperature 0 = greedy.

        The model reads at most the last `block_size` tokens. With `use_cache` the keys and
        values of earlier tokens are kept and only the new token is run through the model;
        once the window would slide past `block_size` the window is recomputed (so cached and
        uncached generation give the same tokens)."""
        if temperature < 0:
            raise ValueError("temperature must be >= 0 (0 = greedy).")
        generator = torch.Generator(device=idx.device).manual_seed(seed) if seed is not None else None
        was_training = self.training
        self.eval()
        window = self.config.block_size
        caches, cached_len = None, 0
        for _ in range(max_new_tokens):
            if use_cache and idx.shape[1] <= window:
                if caches is None:
                    caches = [None] * len(self.blocks)
                    logits, _ = self(idx, start=0, caches=caches)
                else:
                    logits, _ = self(idx[:, cached_len:], start=cached_len, caches=caches)
                cached_len = idx.shape[1]
            else:
                logits, _ = self(idx[:, -window:])
            logits = logits[:, -1, :]
            if temperature == 0:
                next_id = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                next_id = torch.multinomial(F.softmax(logits, dim=-1), num_samples=1, generator=generator)
            idx = torch.cat((idx, next_id), dim=1)
        self.train(was_training)
        return idx
