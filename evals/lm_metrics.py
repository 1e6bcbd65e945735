"""Language-model measurements on a GGUF file with llama.cpp: perplexity, KL divergence against a
reference model, load time and decode/prefill speed. Shared by `evals.finetune` and
`evals.quantization`.

Perplexity follows llama.cpp's `perplexity` tool in spirit: the text is cut into windows of
`n_ctx` tokens, each window is evaluated from a fresh context, and only the second half of each
window is scored, so every scored token sees at least n_ctx/2 tokens of context. KL divergence is
the mean over the same scored tokens of KL(reference || model) between the full next-token
distributions (llama.cpp's `--kl-divergence`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def open_gguf(path: str | Path, n_ctx: int = 512, threads: int = 1, logits_all: bool = True):
    from llama_cpp import Llama

    start = time.perf_counter()
    llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_batch=n_ctx, logits_all=logits_all, verbose=False)
    return llm, time.perf_counter() - start


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def window_logprobs(llm, tokens: list[int]) -> np.ndarray:
    """log-softmax of the next-token logits at every position of one window (fresh context)."""
    llm.reset()
    llm.eval(tokens)
    return _log_softmax(np.asarray(llm.scores[: len(tokens)], dtype=np.float32))


def windows(tokens: list[int], n_ctx: int, max_windows: int) -> list[list[int]]:
    """Non-overlapping windows of n_ctx tokens (the last partial one dropped).

    >>> [len(w) for w in windows(list(range(10)), 4, 5)]
    [4, 4]
    """
    return [tokens[i:i + n_ctx] for i in range(0, len(tokens) - n_ctx + 1, n_ctx)][:max_windows]


def perplexity_and_kl(path: str | Path, text: str, reference: str | Path | None = None, n_ctx: int = 512,
                      max_windows: int = 8, threads: int = 1) -> dict:
    """Perplexity of `path` on `text` and, with `reference`, mean KL(reference || path) per token."""
    llm, load_s = open_gguf(path, n_ctx, threads)
    ref = open_gguf(reference, n_ctx, threads)[0] if reference else None
    try:
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=False)
        nll, kl, scored = 0.0, 0.0, 0
        for window in windows(tokens, n_ctx, max_windows):
            half = n_ctx // 2
            lp = window_logprobs(llm, window)
            targets = np.asarray(window[half:], dtype=np.int64)
            positions = np.arange(half - 1, len(window) - 1)
            nll -= float(lp[positions, targets].sum())
            if ref is not None:
                rp = window_logprobs(ref, window)[positions]
                kl += float((np.exp(rp) * (rp - lp[positions])).sum())
            scored += len(positions)
    finally:
        llm.close()
        if ref is not None:
            ref.close()
    out = {"perplexity": round(float(np.exp(nll / max(scored, 1))), 4), "scored_tokens": scored, "load_s": round(load_s, 3)}
    if reference:
        out["mean_kl"] = round(kl / max(scored, 1), 5)
    return out


def speed(path: str | Path, prompt: str, threads: int, new_tokens: int = 48) -> dict:
    """Prefill and decode tokens/s for one prompt, greedy, at `threads` threads."""
    llm, load_s = open_gguf(path, 1024, threads, logits_all=False)
    try:
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False)
        llm.reset()
        start = time.perf_counter()
        llm.eval(tokens)
        prefill = time.perf_counter() - start
        start, produced = time.perf_counter(), 0
        for _ in llm.generate([], temp=0.0, top_k=1, reset=False):
            produced += 1
            if produced >= new_tokens:
                break
        decode = time.perf_counter() - start
    finally:
        llm.close()
    return {"threads": threads, "load_s": round(load_s, 3), "prefill_tok_s": round(len(tokens) / max(prefill, 1e-9), 1),
            "decode_tok_s": round(produced / max(decode, 1e-9), 1)}
