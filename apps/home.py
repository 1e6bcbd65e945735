"""Home automation: chat with an agent that drives a Home Assistant hub, beside a live device panel.

    python -m apps.home                                        # Streamlit on http://127.0.0.1:8502
    python -m apps.home --ask "make it warmer in here"          # one command from the CLI
    python -m apps.home --ask "unlock the front door" --yes    # confirm risky actions up front
    HEARTH_HUB_URL=http://homeassistant.local:8123 HEARTH_HUB_TOKEN=... python -m apps.home

Without HEARTH_HUB_URL the project's hub simulator (`tools.home.hub_server`) is started in-process on
loopback, with its state in .hearth/home_hub.sqlite. Risky actions (unlock, disarm, open the
garage) ask for confirmation first.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path

PAGE = Path(__file__).parent / "ui" / "home_page.py"


def ensure_hub() -> str:
    """HEARTH_HUB_URL, or the simulator started in this process (its URL is exported for the graph)."""
    if url := os.environ.get("HEARTH_HUB_URL"):
        return url
    from tools.home.hub_server import start_in_thread

    url = start_in_thread()
    os.environ["HEARTH_HUB_URL"] = url
    return url


def run_command(text: str, *, confirm, model: str | None = None, thread_id: str | None = None,
                local_commands: bool = True) -> str:
    """Send one command through the agent; `confirm(question) -> bool` answers risky-action questions."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from graphs.react_agent.context import Context
    from graphs.react_agent.graph import builder

    graph = builder.compile(checkpointer=InMemorySaver())
    context = Context(toolset="home", hub_url=ensure_hub(), local_commands=local_commands, **({"model": model} if model else {}))
    config = {"configurable": {"thread_id": thread_id or uuid.uuid4().hex}}
    state = graph.invoke({"messages": [("human", text)]}, config, context=context)
    while "__interrupt__" in state:
        question = state["__interrupt__"][0].value["question"]
        state = graph.invoke(Command(resume="yes" if confirm(question) else "no"), config, context=context)
    return state["messages"][-1].content


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.home", description=__doc__.splitlines()[0])
    parser.add_argument("--ask", metavar="COMMAND", help="run one command and print the result (no Streamlit)")
    answer = parser.add_mutually_exclusive_group()
    answer.add_argument("--yes", action="store_true", help="confirm risky actions without asking")
    answer.add_argument("--no", action="store_true", help="decline risky actions without asking")
    parser.add_argument("--model", default=None, help="chat model spec (default: local)")
    parser.add_argument("--model-only", action="store_true", help="skip the sentence matcher: the model picks every call")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HEARTH_HOME_PORT", 8502)))
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv)
    import models  # noqa: F401  (offline switches first)

    if args.ask:
        def confirm(question: str) -> bool:
            if args.yes or args.no:
                print(f"{question} -> {'yes' if args.yes else 'no'}", file=sys.stderr)
                return args.yes
            if not sys.stdin.isatty():
                print(f"{question} -> no (no terminal to ask; pass --yes to confirm)", file=sys.stderr)
                return False
            return input(f"{question} ").strip().lower() in ("y", "yes")

        from tools.home.client import HomeHubError

        try:
            print(run_command(args.ask, confirm=confirm, model=args.model, local_commands=not args.model_only))
        except HomeHubError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    from apps.chat import streamlit_command

    if args.model:
        os.environ["HEARTH_MODEL"] = args.model
    print(f"Starting the home assistant on http://{args.address}:{args.port} (Ctrl+C to stop)", flush=True)
    os.execv(sys.executable, streamlit_command(PAGE, args.port, args.address))


if __name__ == "__main__":
    sys.exit(main())
