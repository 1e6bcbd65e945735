"""One optimizer step with the bookkeeping every trainer here shares: clip, step, schedule, record
the loss, move the progress bar and report progress to a background job; and the trainers'
numeric command-line options, read from their config dataclass.

    loss = criterion(...)
    take_step(loss, model, optimizer, schedule, losses=losses, bar=bar, report=report, total=total)
    add_number_options(parser, RerankerConfig, ints=("epochs", "max_steps"), floats=("lr",))
"""

from __future__ import annotations


def take_step(loss, model, optimizer, schedule, *, losses: list[float], bar, report, total: int,
              max_grad_norm: float = 1.0) -> float:
    """Back-propagate `loss`, clip gradients to `max_grad_norm`, step the optimizer and the
    schedule, append the loss to `losses` and report `step n/total` (5-95% of the job's progress)."""
    import torch

    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    schedule.step()
    losses.append(float(loss.item()))
    bar.update(1)
    bar.set_postfix(loss=f"{losses[-1]:.3f}")
    report(0.05 + 0.9 * len(losses) / total, f"step {len(losses)}/{total}, loss {losses[-1]:.3f}")
    return losses[-1]


def adamw_with_warmup(model, lr: float, total: int, warmup_ratio: float, floor: float = 0.05):
    """AdamW (weight decay 0.01) and a schedule that warms up linearly over `warmup_ratio` of
    `total` steps, then decays linearly, never below `floor` times the peak rate.

    >>> import torch
    >>> optimizer, schedule = adamw_with_warmup(torch.nn.Linear(2, 1), lr=1.0, total=10, warmup_ratio=0.2)
    >>> [round(schedule.lr_lambdas[0](s), 3) for s in (0, 1, 2, 9, 12)]
    [0.5, 1.0, 1.0, 0.125, 0.05]
    """
    import torch

    warmup = max(1, int(warmup_ratio * total))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else max(floor, (total - s) / max(1, total - warmup)))
    return optimizer, schedule


def add_number_options(parser, config_class, ints=(), floats=()) -> None:
    """`--max-steps`-style options for the named int and float fields of `config_class`, each
    defaulting to the field's default.

    >>> import argparse
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Config:
    ...     max_steps: int = 0
    ...     lr: float = 1e-4
    >>> parser = argparse.ArgumentParser()
    >>> add_number_options(parser, Config, ints=("max_steps",), floats=("lr",))
    >>> vars(parser.parse_args(["--max-steps", "3"]))
    {'max_steps': 3, 'lr': 0.0001}
    """
    for kind, names in ((int, ints), (float, floats)):
        for name in names:
            parser.add_argument("--" + name.replace("_", "-"), type=kind, default=getattr(config_class, name))
