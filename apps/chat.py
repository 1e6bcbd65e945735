"""The Streamlit RAG chat over the sample handbook (the README's main command runs this).

    python -m apps.chat                      # http://127.0.0.1:8501
    python -m apps.chat --port 8600 --model ollama:qwen2.5:7b

The page itself is apps/ui/chat_page.py; this module starts Streamlit on it, offline and quiet.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PAGE = Path(__file__).parent / "ui" / "chat_page.py"


def streamlit_command(page: Path, port: int, address: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(page), "--server.port", str(port),
            "--server.address", address, "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--global.developmentMode", "false",
            "--client.toolbarMode", "viewer"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m apps.chat", description="Streamlit RAG chat")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HEARTH_PORT", 8501)))
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--model", default=None, help="chat model spec shown first in the picker (default: local)")
    args = parser.parse_args(argv)
    import models  # noqa: F401  (offline switches, inherited by Streamlit)

    if args.model:
        os.environ["HEARTH_MODEL"] = args.model
    print(f"Starting the chat on http://{args.address}:{args.port} (Ctrl+C to stop)", flush=True)
    os.execv(sys.executable, streamlit_command(PAGE, args.port, args.address))


if __name__ == "__main__":
    main()
