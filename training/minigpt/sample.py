"""Sample text from a trained mini-GPT checkpoint.

    python -m training.minigpt.sample --checkpoint out/minigpt/alice-rope --prompt "Alice " --tokens 200
    python -m training.minigpt.sample --checkpoint out/minigpt/alice-rope --temperature 0.8 --top-k 20 --seed 1
"""

from __future__ import annotations

import argparse
import sys

import torch

from training.minigpt.train import load_model


def sample_text(checkpoint: str, prompt: str = "", tokens: int = 200, *, temperature: float = 0.8,
                top_k: int | None = 20, seed: int | None = 0) -> str:
    """`tokens` new tokens after `prompt`, decoded (the prompt is not repeated)."""
    model, tokenizer, _ = load_model(checkpoint)
    ids = tokenizer.encode(prompt) or [0]
    idx = torch.tensor([ids], dtype=torch.long)
    out = model.generate(idx, tokens, temperature=temperature, top_k=top_k, seed=seed)
    return tokenizer.decode(out[0, len(ids):].tolist())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.minigpt.sample", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="ckpt.pt or the folder that holds it")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        text = sample_text(args.checkpoint, args.prompt, args.tokens, temperature=args.temperature,
                           top_k=args.top_k or None, seed=args.seed)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(args.prompt + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
