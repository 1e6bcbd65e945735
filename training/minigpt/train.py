"""Causal-LM pretraining of mini-GPT on CPU, with checkpoint/resume, a loss curve and MLflow-layout metrics.

    python -m training.minigpt.train --data alice --steps 300 --position rope
    python -m training.minigpt.train --data alice --steps 600 --resume          # continue the same run
    python -m training.minigpt.train --data legal --position alibi --out-dir out/minigpt/legal-alibi

Writes under --out-dir (default out/minigpt/<data>-<position>): `ckpt.pt` (model, optimizer, step,
RNG states, config, tokenizer, loss history, MLflow run id), `loss.png`, `result.json`; metrics go
to MLflow: the project's store (`mlflow ui --backend-store-uri sqlite:///.hearth/mlflow/mlflow.db`), or --mlruns FOLDER's own.

Resuming restores the batch generator and torch's RNG, and the learning rate is a function of the
step, so a run interrupted and resumed logs the same losses as one that was never interrupted.
A larger --steps on --resume extends the run (the cosine schedule then stretches from that step on).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from models.settings import PROJECT_ROOT
from training.minigpt.data import get_batch, load_tokenizer, split_ids, tokenizer_from_state
from training.minigpt.model import GPT, GPTConfig, POSITIONS
from training.tracking import LiveRun

Progress = Callable[[float, str], None]


@dataclass
class TrainConfig:
    data: str = "alice"              # corpus name (training.corpora) or a text file
    max_chars: int | None = 200_000
    tokenizer: str = "char"          # char | bpe:PATH_PREFIX
    position: str = "rope"
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 64
    dropout: float = 0.0
    batch_size: int = 32
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 20
    steps: int = 300
    eval_interval: int = 50
    eval_batches: int = 8
    checkpoint_interval: int = 50
    seed: int = 1337
    threads: int = 1                 # torch threads; 2 collapsed to ~20x slower on a shared 2-core box (OpenMP spin-wait)
    out_dir: str = ""                # default out/minigpt/<data>-<position>
    mlruns: str = ""                 # MLflow store folder; default the project's store (.hearth/mlflow)
    experiment: str = "minigpt"
    loss_curve: bool = True          # write loss.png when the run finishes

    def resolved_out_dir(self) -> Path:
        if self.out_dir:
            return Path(self.out_dir)
        name = Path(self.data).stem if ("/" in self.data or "." in self.data) else self.data
        return PROJECT_ROOT / "out" / "minigpt" / f"{name}-{self.position}"

    def model_config(self, vocab_size: int) -> GPTConfig:
        return GPTConfig(vocab_size=vocab_size, block_size=self.block_size, n_layer=self.n_layer, n_head=self.n_head,
                         n_embd=self.n_embd, dropout=self.dropout, position=self.position)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to lr * min_lr_ratio at the last step."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@torch.no_grad()
def estimate_loss(model: GPT, data: torch.Tensor, config: TrainConfig) -> float:
    """Mean loss on `eval_batches` fixed random windows (the same windows at every evaluation)."""
    generator = torch.Generator().manual_seed(config.seed + 1)
    was_training = model.training
    model.eval()
    losses = [model(*get_batch(data, config.batch_size, config.block_size, generator))[1].item()
              for _ in range(config.eval_batches)]
    model.train(was_training)
    return sum(losses) / len(losses)


@torch.no_grad()
def evaluate_perplexity(model: GPT, data: torch.Tensor, context_length: int, *, max_windows: int | None = None,
                        batch_size: int = 8) -> float:
    """exp(mean next-token loss) over consecutive non-overlapping windows of `context_length`
    tokens (every token predicted from the earlier tokens of its window)."""
    n_windows = (len(data) - 1) // context_length
    if max_windows:
        n_windows = min(n_windows, max_windows)
    if n_windows == 0:
        raise ValueError(f"Need more than {context_length} tokens to evaluate at context length {context_length}; "
                         f"the text has {len(data)}.")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for first in range(0, n_windows, batch_size):
        starts = range(first * context_length, min(n_windows, first + batch_size) * context_length, context_length)
        x = torch.stack([data[s:s + context_length] for s in starts])
        y = torch.stack([data[s + 1:s + 1 + context_length] for s in starts])
        _, loss = model(x, y)
        total += loss.item() * y.numel()
        count += y.numel()
    model.train(was_training)
    return math.exp(total / count)


class UnsafeCheckpointError(ValueError):
    """A checkpoint file holds something other than tensors and plain data (it could run code)."""


def save_checkpoint(path: Path, **state) -> None:
    """Tensors and plain data only (dicts, lists, numbers, strings), so `load_checkpoint` can
    read it with `weights_only=True`."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)   # never leave a half-written checkpoint behind


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "ckpt.pt"
    if not path.exists():
        raise FileNotFoundError(f"No checkpoint at {str(path)!r}: train one first with "
                                "`python -m training.minigpt.train --out-dir FOLDER`.")
    import pickle

    try:
        # weights_only: tensors and plain containers only, never arbitrary pickled objects, so a
        # checkpoint from elsewhere (or one an agent names) cannot run code when it is read.
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"Refused to load {str(path)!r}: it holds Python objects other than tensors and plain data, and "
            "unpickling them could run code. Load only checkpoints written by `python -m training.minigpt.train`; "
            f"retrain to get one ({str(exc).splitlines()[0]})") from None


def load_model(path: str | Path) -> tuple[GPT, object, dict]:
    """The trained model (eval mode), its tokenizer and the checkpoint dict."""
    ckpt = load_checkpoint(path)
    model = GPT(GPTConfig(**ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, tokenizer_from_state(ckpt["tokenizer"]), ckpt


def plot_losses(path: Path, train_losses: list, val_losses: list, title: str) -> None:
    from matplotlib.figure import Figure   # no pyplot: no GUI backend, and a much faster import

    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    if train_losses:
        ax.plot(*zip(*train_losses), label="train", linewidth=1)
    if val_losses:
        ax.plot(*zip(*val_losses), "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.legend()
    fig.subplots_adjust(left=0.12, bottom=0.15, right=0.97, top=0.9)
    fig.savefig(path, dpi=100)


def train(config: TrainConfig, *, resume: bool = False, progress: Progress | None = None, stop_after: int | None = None,
          text: str | None = None) -> dict:
    """Train (or resume) and return a summary. `stop_after` ends this call after that many steps
    (checkpointed), as an interruption would; `text` replaces reading `config.data`."""
    from training.corpora import load_corpus

    if config.position not in POSITIONS:
        raise ValueError(f"position must be one of {', '.join(POSITIONS)}, got {config.position!r}.")
    torch.set_num_threads(max(1, config.threads))
    out_dir = config.resolved_out_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "ckpt.pt"
    report = progress or (lambda fraction, message: None)

    ckpt = load_checkpoint(ckpt_path) if resume and ckpt_path.exists() else None
    if ckpt is not None:
        saved = ckpt["train_config"]
        # the run continues with the saved settings; only the step budget may grow
        config = dataclasses.replace(TrainConfig(**saved), steps=max(config.steps, saved["steps"]))
    if text is None:
        text = load_corpus(config.data, max_chars=config.max_chars)
    tokenizer = tokenizer_from_state(ckpt["tokenizer"]) if ckpt else load_tokenizer(config.tokenizer, text)
    train_data, val_data = split_ids(tokenizer.encode(text))

    torch.manual_seed(config.seed)
    model = GPT(config.model_config(tokenizer.vocab_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.95), weight_decay=0.1)
    batches = torch.Generator().manual_seed(config.seed)
    step, train_losses, val_losses, run_id = 0, [], [], None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        batches.set_state(ckpt["rng"]["batches"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        step, train_losses, val_losses, run_id = ckpt["step"], ckpt["train_losses"], ckpt["val_losses"], ckpt["run_id"]

    run = LiveRun(config.experiment, out_dir.name, run_id=run_id, store=config.mlruns or None,
                  params={**asdict(config), "vocab_size": tokenizer.vocab_size, "parameters": model.num_parameters()})

    def checkpoint() -> None:
        save_checkpoint(ckpt_path, model=model.state_dict(), optimizer=optimizer.state_dict(), step=step,
                        rng={"batches": batches.get_state(), "torch": torch.get_rng_state()},
                        train_config=asdict(config), model_config=model.config.to_dict(), tokenizer=tokenizer.state(),
                        train_losses=train_losses, val_losses=val_losses, run_id=run.run_id)
        run.flush()  # the metrics up to this checkpoint: a resume starts here and logs the rest once

    started, first_step = time.perf_counter(), step
    last_step = config.steps if stop_after is None else min(config.steps, step + stop_after)
    model.train()
    try:
        while step < last_step:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step)
            x, y = get_batch(train_data, config.batch_size, config.block_size, batches)
            _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            train_losses.append((step, loss.item()))
            run.log_metric("train_loss", loss.item(), step)
            if step % config.eval_interval == 0 or step == config.steps:
                val = estimate_loss(model, val_data, config)
                val_losses.append((step, val))
                run.log_metric("val_loss", val, step)
            if step % config.checkpoint_interval == 0 or step == last_step:
                checkpoint()
            report(step / config.steps, f"step {step}/{config.steps} loss {loss.item():.3f}")
    except BaseException:
        run.finish(failed=True)
        raise
    val_loss = val_losses[-1][1] if val_losses else estimate_loss(model, val_data, config)
    perplexity = evaluate_perplexity(model, val_data, config.block_size, max_windows=64)
    run.log_metric("val_perplexity", perplexity, step)
    finished = step >= config.steps
    if finished and config.loss_curve:
        plot_losses(out_dir / "loss.png", train_losses, val_losses, f"mini-GPT {config.position} on {config.data}")
    if finished:
        run.finish()
    result = {"out_dir": str(out_dir), "checkpoint": str(ckpt_path), "loss_curve": str(out_dir / "loss.png"),
              "mlflow_run_id": run.run_id, "mlflow_store": run.store_uri, "step": step, "steps": config.steps, "finished": finished,
              "train_loss": round(train_losses[-1][1], 4) if train_losses else None, "val_loss": round(val_loss, 4),
              "val_perplexity": round(perplexity, 3), "parameters": model.num_parameters(),
              "vocab_size": tokenizer.vocab_size, "position": config.position,
              "seconds": round(time.perf_counter() - started, 1), "steps_this_call": step - first_step}
    (out_dir / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.minigpt.train", description=__doc__.splitlines()[0])
    for f in dataclasses.fields(TrainConfig):
        if f.type == "bool":
            parser.add_argument("--no-" + f.name.replace("_", "-"), dest=f.name, action="store_false")
            continue
        kind = {"int | None": int, "float": float, "int": int}.get(str(f.type), str)
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=f.default)
    parser.add_argument("--resume", action="store_true", help="continue from ckpt.pt in --out-dir")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = vars(_parser().parse_args(argv))
    resume = args.pop("resume")
    config = TrainConfig(**{k: v for k, v in args.items()})
    from tqdm import tqdm

    from training.corpora import CorpusError

    bar = tqdm(total=config.steps, unit="step", file=sys.stderr)

    def progress(fraction: float, message: str) -> None:
        bar.n = round(fraction * config.steps)
        bar.set_postfix_str(message.split(" ", 2)[-1])
        bar.refresh()

    try:
        result = train(config, resume=resume, progress=progress)
    except (CorpusError, ValueError, FileNotFoundError) as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bar.close()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
