"""Ask the ReAct agent from the command line, with any toolset.

    python -m apps.agent "What's the weather in Lisbon?"
    python -m apps.agent "What is 17.5% of 2,340?"
    python -m apps.agent --toolset market "How did ACME do on 2026-11-27?"
    python -m apps.agent --toolset home "make it warmer in here"      # see also python -m apps.home

Prints each tool call with its result, then the answer. Risky calls are declined unless --yes.
"""

from __future__ import annotations

import argparse
import sys
import uuid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.agent", description=__doc__.splitlines()[0])
    parser.add_argument("request")
    parser.add_argument("--toolset", default="basic", help="basic, market or home")
    parser.add_argument("--model", default=None, help="chat model spec (default: local)")
    parser.add_argument("--yes", action="store_true", help="confirm risky actions")
    parser.add_argument("--max-steps", type=int, default=12, help="recursion limit of the graph")
    args = parser.parse_args(argv)
    import models  # noqa: F401  (offline switches first)
    from langchain_core.messages import AIMessage, ToolMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from graphs.react_agent.context import Context
    from graphs.react_agent.graph import builder

    settings = {"toolset": args.toolset, **({"model": args.model} if args.model else {})}
    if args.toolset == "home":
        from apps.home import ensure_hub

        settings["hub_url"] = ensure_hub()
    context = Context(**settings)
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": uuid.uuid4().hex}, "recursion_limit": args.max_steps}
    try:
        state = graph.invoke({"messages": [("human", args.request)]}, config, context=context)
        while "__interrupt__" in state:
            question = state["__interrupt__"][0].value["question"]
            print(f"{question} -> {'yes' if args.yes else 'no (pass --yes to confirm)'}", file=sys.stderr)
            state = graph.invoke(Command(resume="yes" if args.yes else "no"), config, context=context)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for message in state["messages"][1:-1]:
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                print(f"→ {call['name']}({', '.join(f'{k}={v!r}' for k, v in call['args'].items())})", file=sys.stderr)
        elif isinstance(message, ToolMessage):
            print(f"  {'✗' if message.status == 'error' else '✓'} {message.content[:300]}", file=sys.stderr)
    print(state["messages"][-1].content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
