"""Tokenizers side by side: a Streamlit dashboard, or a table in the terminal.

    python -m apps.tokenizers                                   # dashboard on http://127.0.0.1:8501
    python -m apps.tokenizers --port 8600 --bpe-path .hearth/tokenizers/legal-2000.model
    python -m apps.tokenizers --names bert-wordpiece,cl100k_base          # dashboard, these preselected
    python -m apps.tokenizers --text "Straße über 👋 def f(x): return x"     # table only, no Streamlit
    python -m apps.tokenizers --file notes.txt --names ours-bpe,cl100k_base --show-tokens

The page itself is apps/ui/tokenizers_page.py; the statistics come from training.tokenizers.compare.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from apps.chat import streamlit_command

PAGE = Path(__file__).parent / "ui" / "tokenizers_page.py"


def print_comparison(text: str, names: list[str] | None, bpe_path: str | None, show_tokens: bool) -> None:
    from training.tokenizers.compare import compare_tokenizers, format_table, tokenize_for_display

    rows = compare_tokenizers(text, names, bpe_path=bpe_path)
    print(format_table(rows))
    if show_tokens:
        for row in rows:
            print(f"\n{row.name}: " + "|".join(tokenize_for_display(row.name, text, bpe_path=bpe_path)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m apps.tokenizers", description="Compare tokenizers on any text")
    parser.add_argument("--text", default=None, help="print the comparison table for this text (no Streamlit)")
    parser.add_argument("--file", default=None, help="print the comparison table for a UTF-8 file (no Streamlit)")
    parser.add_argument("--names", default=None,
                        help="comma-separated tokenizer names (default: all available; preselected in the dashboard)")
    parser.add_argument("--bpe-path", default=None, help="our BPE .model file (default: trained on legal text, cached)")
    parser.add_argument("--show-tokens", action="store_true", help="also print the tokens, separated by |")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HEARTH_PORT", 8501)))
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv)
    import models  # noqa: F401  (offline switches and TIKTOKEN_CACHE_DIR, inherited by Streamlit)

    names = [n.strip() for n in args.names.split(",") if n.strip()] if args.names else None
    if args.text is not None or args.file is not None:
        if args.file is not None:
            try:
                text = Path(args.file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                parser.error(f"cannot read --file {args.file!r} as UTF-8 text: {exc}")
        else:
            text = args.text
        try:
            print_comparison(text, names, args.bpe_path, args.show_tokens)
        except (ValueError, FileNotFoundError) as exc:
            parser.error(str(exc))
        return
    if args.bpe_path:
        os.environ["HEARTH_BPE_PATH"] = args.bpe_path
    if names:
        os.environ["HEARTH_TOKENIZERS"] = ",".join(names)
    print(f"Starting the tokenizer dashboard on http://{args.address}:{args.port} (Ctrl+C to stop)", flush=True)
    os.execv(sys.executable, streamlit_command(PAGE, args.port, args.address))


if __name__ == "__main__":
    main()
