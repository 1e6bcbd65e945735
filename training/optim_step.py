"""One optimizer step with the bookkeeping every trainer here shares: clip, step, schedule, record
the loss, move the progress bar and report progress to a background job.

    loss = criterion(...)
    take_step(loss, model, optimizer, schedule, losses=losses, bar=bar, report=report, total=total)
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
