"""Check every part of the stack and say how to fix what is broken.

    python -m apps.doctor                                   # defaults: local model, local embeddings, .hearth/
    python -m apps.doctor --model gguf:~/models/qwen2.5-1.5b-instruct-q4_k_m.gguf
    python -m apps.doctor --model ollama:qwen2.5:7b --embeddings ollama:nomic-embed-text
    python -m apps.doctor --index-dir http://127.0.0.1:6333 --checkpoints postgresql://me:pw@127.0.0.1:5432/hearth
    python -m apps.doctor --json                            # [{name, ok, detail, fix, seconds}, ...]

Checks, in order: python environment, offline switches, bundled weights, chat model (load time,
decode tokens/s, one constrained tool call), embeddings (dimension, sentences/s), vector store
(a temporary collection is written, searched and dropped), checkpointer (one checkpoint written
and read back), network (nothing beyond loopback was contacted during the checks above).

Each check runs on its own, under a time limit, so one failure never hides the others. Exit code
0 when every check passes, 1 otherwise. The checks live in `graphs.stack_checks` (`run_checks(...)
-> list[CheckResult]`); this module parses arguments and prints.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap

from graphs.stack_checks import CheckResult, close_clients, run_checks


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------
def _marks() -> tuple[str, str, str]:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✔✘!".encode(encoding)
        return "✔", "✘", "!"
    except (UnicodeEncodeError, LookupError):
        return "PASS", "FAIL", "WARN"


def format_result(result: CheckResult, width: int = 110) -> str:
    ok_mark, fail_mark, warn_mark = _marks()
    mark = warn_mark if result.warned else (ok_mark if result.ok else fail_mark)
    head = f"{mark:<4} {result.name:<19} {result.seconds:>7.2f} s  "
    body = textwrap.wrap(result.detail, width=max(40, width - len(head))) or [""]
    lines = [head + body[0]] + [" " * len(head) + line for line in body[1:]]
    if result.fix:
        label = "fix: " if not result.ok else "hint: "
        lines += textwrap.wrap(result.fix, width=width, initial_indent=" " * 5 + label,
                               subsequent_indent=" " * (5 + len(label)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.doctor", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:8]))
    parser.add_argument("--model", default=None, help="chat model spec (default: local)")
    parser.add_argument("--embeddings", default=None, help="embedding model spec (default: local)")
    parser.add_argument("--index-dir", default=None, metavar="DIR|URL",
                        help="Qdrant folder or server URL (default: $QDRANT_URL or .hearth/qdrant)")
    parser.add_argument("--checkpoints", default=None, metavar="URL",
                        help="sqlite:///PATH or postgresql://... (default: .hearth/checkpoints.sqlite)")
    parser.add_argument("--json", action="store_true", help="print a JSON list of {name, ok, detail, fix, seconds}")
    args = parser.parse_args(argv)

    import faulthandler

    faulthandler.enable()  # a native crash (e.g. a llama.cpp build for the wrong CPU) still names the check
    kwargs = dict(model=args.model, embeddings=args.embeddings, index_dir=args.index_dir, checkpoints=args.checkpoints)
    if args.json:
        # Keep stdout clean for the JSON: whatever the checks print, C libraries included, goes to stderr.
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
        try:
            results = run_checks(**kwargs)
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print("hearth doctor: checking the stack (the first run loads the models; give it a minute)\n", flush=True)
        results = run_checks(**kwargs, on_result=lambda r: print(format_result(r), flush=True))
        failed = [r.name for r in results if not r.ok]
        warned = [r.name for r in results if r.warned]
        summary = f"\n{len(results) - len(failed)}/{len(results)} checks passed"
        if warned:
            summary += f" ({len(warned)} with a warning: {', '.join(warned)})"
        if failed:
            summary += f"; failed: {', '.join(failed)}"
        print(summary, flush=True)
    close_clients()
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
