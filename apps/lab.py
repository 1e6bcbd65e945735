"""Run the training labs from a plain-language request (the lab-assistant graph).

    python -m apps.lab "train a 2,000-token BPE on the legal opinions and compare it with GPT-4's tokenizer"
    python -m apps.lab --max-chars 50000 "train a 4-gram model on alice"
    python -m apps.lab --wait 5 --thread me "pretrain a mini-GPT for 300 steps on alice"   # answers with a job id
    python -m apps.lab --json "train a 512-token BPE on pubmed and compare it with GPT-4o"

Prints the plan, tool calls and job progress on stderr as they happen, then the answer.
Background jobs live in this process: `--wait` (default 600 s) is how long to wait for them.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid

import models  # noqa: F401  (offline switches before anything else loads)


def print_event(event: dict) -> None:
    kind = event.get("event")
    if kind == "plan":
        for note in event["notes"]:
            print(f"note: {note}", file=sys.stderr)
        for i, step in enumerate(event["steps"], start=1):
            print(f"plan {i}: {step}", file=sys.stderr)
    elif kind == "tool_call":
        print(f"-> {event['tool']}({json.dumps(event['args'])})", file=sys.stderr)
    elif kind == "job":
        print(f"   job {event['job_id']}: {event['state']} {100 * event['progress']:.0f}% {event['message']}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.lab", description=__doc__.splitlines()[0])
    parser.add_argument("request", help="what to run, in plain language")
    parser.add_argument("--model", default=None, help="chat model spec for what the parser cannot settle (default: local)")
    parser.add_argument("--max-chars", type=int, default=None, help="use only the first N characters of a corpus")
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for background jobs (default 600)")
    parser.add_argument("--thread", default=None, help="conversation id (checkpointed in .hearth)")
    parser.add_argument("--json", action="store_true", help="print the answer and step results as JSON")
    args = parser.parse_args(argv)

    from graphs.checkpointing import open_checkpointer
    from graphs.lab_assistant.context import Context
    from graphs.lab_assistant.graph import builder
    from models.spec import ModelSpecError

    overrides = {"wait_seconds": args.wait}
    if args.model:
        overrides["model"] = args.model
    if args.max_chars is not None:
        overrides["max_chars"] = args.max_chars
    context = Context(**overrides)
    config = {"configurable": {"thread_id": args.thread or uuid.uuid4().hex}, "recursion_limit": 200}
    state = None
    try:
        with open_checkpointer(None) as saver:
            graph = builder.compile(checkpointer=saver, name="lab_assistant")
            for mode, chunk in graph.stream({"messages": [("human", args.request)]}, config, context=context,
                                            stream_mode=["custom", "values"]):
                if mode == "custom":
                    print_event(chunk)
                else:
                    state = chunk
    except (ModelSpecError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    answer = state["messages"][-1]
    if args.json:
        print(json.dumps({"request": args.request, "answer": answer.content, "results": state.get("results", []),
                          "thread": config["configurable"]["thread_id"]}, indent=2, default=str))
    else:
        print(answer.content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
