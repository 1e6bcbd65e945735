"""Progress reporting for long work (indexing, extraction): a callback type and a tqdm default.

    from models.progress import ProgressCallback, progress_bar
    kb.ingest(["data/handbook"], progress=progress_bar("Indexing"))    # a bar on stderr

Library code takes a `ProgressCallback | None` and calls it as `progress(done, total, name)`;
only entry points choose how to show it, so nothing below `apps/` draws on the terminal itself.
"""

from __future__ import annotations

import sys
from typing import Callable

ProgressCallback = Callable[[int, int, str], None]  # (items done, items total, current item)


def progress_bar(description: str, unit: str = "file") -> ProgressCallback:
    """A progress(done, total, name) callback drawing a tqdm bar on stderr, opened on first call."""
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int, name: str = "") -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit=unit, desc=description, file=sys.stderr)
        bar.total = total
        bar.n = done
        bar.set_postfix_str(str(name)[-40:])
        bar.refresh()
        if done >= total:
            bar.close()

    return progress
