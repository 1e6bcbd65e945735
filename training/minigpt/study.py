"""Study: does perplexity hold when evaluation windows grow past the training length? RoPE vs ALiBi.

    python -m training.minigpt.study                   # 2 layers, d=64, trained on 64-token windows
    python -m training.minigpt.study --quick           # a few steps, for tests
    python -m training.minigpt.study --reuse           # evaluate the models trained by an earlier run again
    python -m training.minigpt.study --positions rope,alibi,sinusoidal --steps 400 --eval-lengths 64,128,256,512

Trains one small char-level model per position encoding with identical settings and seed (same
batches), then evaluates each on the held-out text cut into non-overlapping windows of each
evaluation length. Writes `results.json`, `results.md` (perplexity table and the ratio to the
training length) and `perplexity_by_length.png` under --out (default out/minigpt_study).
ALiBi was designed to extrapolate (Press et al., 2022); RoPE without scaling is known not to.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from models.settings import PROJECT_ROOT
from training.minigpt.train import TrainConfig, evaluate_perplexity, load_model, train


def run_study(*, data: str = "alice", max_chars: int = 200_000, positions=("rope", "alibi"), steps: int = 300,
              block_size: int = 64, eval_lengths=(64, 128, 256, 512), max_windows: int = 16, out: str | Path = "",
              seed: int = 1337, reuse: bool = False, progress=None) -> dict:
    """Train one model per position encoding (or reuse finished ones with `reuse`) and score every
    evaluation length on the same held-out tokens: the first `max_windows` windows of the longest
    length, cut into shorter windows for the shorter lengths."""
    from training.corpora import load_corpus
    from training.minigpt.data import split_ids

    out = Path(out or PROJECT_ROOT / "out" / "minigpt_study")
    out.mkdir(parents=True, exist_ok=True)
    text = load_corpus(data, max_chars=max_chars)
    rows = []
    for i, position in enumerate(positions):
        config = TrainConfig(data=data, max_chars=max_chars, position=position, block_size=block_size, steps=steps,
                             eval_interval=max(1, steps // 4), checkpoint_interval=steps, seed=seed,
                             warmup_steps=min(20, steps // 5), out_dir=str(out / position),
                             mlruns=str(out / "mlruns"), experiment="minigpt_study")
        started = time.perf_counter()

        def step_progress(fraction, message, i=i, position=position):
            if progress:
                progress((i + fraction) / len(positions), f"{position}: {message}")

        finished = out / position / "result.json"
        if reuse and finished.exists() and json.loads(finished.read_text())["step"] == steps:
            trained = json.loads(finished.read_text())
        else:
            trained = train(config, progress=step_progress, text=text)
        model, tokenizer, _ = load_model(out / position)
        _, val = split_ids(tokenizer.encode(text))
        longest = max(eval_lengths)
        span = min((len(val) - 1) // longest, max_windows) * longest
        if span == 0:
            raise ValueError(f"The held-out text ({len(val)} tokens) is shorter than the longest evaluation length "
                             f"{longest}: raise --max-chars or drop that length.")
        scored = val[:span + 1]   # the same tokens for every length
        perplexity = {str(n): round(evaluate_perplexity(model, scored, n), 3) for n in eval_lengths}
        rows.append({"position": position, "train_seconds": round(time.perf_counter() - started, 1),
                     "final_train_loss": trained["train_loss"], "perplexity": perplexity,
                     "ratio_to_train_length": {n: round(p / perplexity[str(block_size)], 3) if str(block_size) in perplexity
                                               else None for n, p in perplexity.items()}})
    result = {"data": data, "max_chars": max_chars, "steps": steps, "train_length": block_size,
              "eval_lengths": list(eval_lengths), "scored_tokens": span,
              "model": {k: getattr(config, k) for k in ("n_layer", "n_head", "n_embd", "tokenizer")}, "rows": rows}
    (out / "results.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out / "results.md").write_text(markdown_table(result), encoding="utf-8")
    plot_study(out / "perplexity_by_length.png", result)
    return result


def markdown_table(result: dict) -> str:
    lengths = [str(n) for n in result["eval_lengths"]]
    lines = [f"Held-out perplexity (char-level, {result['data']}) by evaluation window length, on the same "
             f"{result['scored_tokens']} held-out tokens for every length; trained on {result['train_length']}-token "
             f"windows for {result['steps']} steps. Ratio = perplexity / perplexity at the training length.", "",
             "| position | " + " | ".join(f"ppl@{n}" for n in lengths) + " | " + " | ".join(f"ratio@{n}" for n in lengths) + " |",
             "|---" * (1 + 2 * len(lengths)) + "|"]
    for row in result["rows"]:
        ratios = [row["ratio_to_train_length"][n] for n in lengths]
        lines.append(f"| {row['position']} | " + " | ".join(f"{row['perplexity'][n]:.2f}" for n in lengths) + " | "
                     + " | ".join("-" if r is None else f"{r:.2f}" for r in ratios) + " |")
    return "\n".join(lines) + "\n"


def plot_study(path: Path, result: dict) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import ScalarFormatter

    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    for row in result["rows"]:
        ax.plot(result["eval_lengths"], [row["perplexity"][str(n)] for n in result["eval_lengths"]], "o-",
                label=row["position"])
    ax.axvline(result["train_length"], color="grey", linestyle=":", label="training length")
    ax.set_xscale("log", base=2)
    ax.set_xticks(result["eval_lengths"], [str(n) for n in result["eval_lengths"]])
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.set_xlabel("evaluation window (tokens)")
    ax.set_ylabel("held-out perplexity")
    ax.legend()
    fig.subplots_adjust(left=0.14, bottom=0.15, right=0.97, top=0.95)
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.minigpt.study", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="alice")
    parser.add_argument("--max-chars", type=int, default=200_000)
    parser.add_argument("--positions", default="rope,alibi")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--eval-lengths", default="64,128,256,512")
    parser.add_argument("--max-windows", type=int, default=16, help="windows of the longest length to score")
    parser.add_argument("--reuse", action="store_true", help="reuse finished models in --out (evaluate only)")
    parser.add_argument("--out", default="", help="output folder (default out/minigpt_study)")
    parser.add_argument("--quick", action="store_true", help="20 steps on 20k characters (tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.max_chars, args.max_windows = 20, 20_000, 2
    from tqdm import tqdm

    bar = tqdm(total=1000, unit="‰", file=sys.stderr)

    def progress(fraction, message):
        bar.n = round(fraction * 1000)
        bar.set_postfix_str(message)
        bar.refresh()

    try:
        result = run_study(data=args.data, max_chars=args.max_chars, positions=tuple(args.positions.split(",")),
                           steps=args.steps, block_size=args.block_size, max_windows=args.max_windows,
                           eval_lengths=tuple(int(n) for n in args.eval_lengths.split(",")), out=args.out,
                           reuse=args.reuse, progress=progress)
    except ValueError as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bar.close()
    print(markdown_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
