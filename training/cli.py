"""How the lifecycle commands (`python -m training.sft`, `.dpo`, `.reward_model`, `.export`, ...) end.

    if __name__ == "__main__":
        sys.exit(run_command(main))

A refused input (a missing data file, a training set with test items in it, `--device cuda` on a
machine without a GPU) is a `ValueError`, `FileNotFoundError` or `RuntimeError` whose message names
the fix; the user sees that message on one line, not a traceback. `HEARTH_TRACEBACK=1` shows the
traceback as well.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

REFUSED = (ValueError, FileNotFoundError, RuntimeError)


def run_command(main: Callable[[], Any], succeeded: Callable[[Any], bool] = bool) -> int:
    """Run `main()` and return the process exit status: 0 when `succeeded(result)`, 1 when not, 2 for a
    refused input (its message printed as `error: ...`), 130 when interrupted."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        result = main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except REFUSED as exc:
        if os.environ.get("HEARTH_TRACEBACK"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if succeeded(result) else 1
