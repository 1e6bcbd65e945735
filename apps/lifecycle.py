"""The fine-tuning lifecycle dashboard: runs and loss curves, the quantization table, the registry.

    python -m apps.lifecycle                     # http://127.0.0.1:8501
    python -m apps.lifecycle --port 8602

The page is apps/ui/lifecycle_page.py; the steps it shows are training.sft, training.export,
evals.quantization and training.registry.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from apps.chat import streamlit_command

PAGE = Path(__file__).parent / "ui" / "lifecycle_page.py"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m apps.lifecycle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("HEARTH_PORT", 8501)))
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv)
    import models  # noqa: F401  (offline switches, inherited by Streamlit)

    print(f"Starting the lifecycle dashboard on http://{args.address}:{args.port} (Ctrl+C to stop)", flush=True)
    os.execv(sys.executable, streamlit_command(PAGE, args.port, args.address))


if __name__ == "__main__":
    main()
