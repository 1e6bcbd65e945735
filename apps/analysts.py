"""Multi-agent market analysts: a daily report with a price chart, from the CLI or Streamlit.

    python -m apps.analysts "Daily report for ACME and CLDX on 2026-11-27"                 # LangGraph team
    python -m apps.analysts "Daily report for ACME and CLDX on 2026-11-27" --engine autogen # AutoGen team
    python -m apps.analysts "Daily report for ECOV" --model "local?max_tokens=96" --out /tmp/reports --trace
    python -m apps.analysts --ui                                                            # http://127.0.0.1:8501

The CLI prints the report's path, then the report. `--trace` adds the LangGraph supervisor's
routing decisions or the AutoGen team's tool calls. Sample data only names ACME, BRGT, CLDX, DYNA
and ECOV (invented companies; see tools/market_data.py). The Streamlit page is
apps/ui/analysts_page.py; `--ui` starts Streamlit on it, offline and quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from apps.chat import streamlit_command
from models.settings import configured_model

PAGE = Path(__file__).parent / "ui" / "analysts_page.py"
ENGINES = ("langgraph", "autogen")

_SERVED: dict[str, str] = {}
_SERVED_LOCK = threading.Lock()


def serve_model(model: str = "local") -> tuple[str, str]:
    """(base URL, model name) of an OpenAI-compatible endpoint for the AutoGen team: HEARTH_SERVE_URL
    when set, else `apps.serve` over `model` started in this process on a free loopback port (once per model)."""
    from apps.serve import create_app, display_name

    if os.environ.get("HEARTH_SERVE_URL"):
        return os.environ["HEARTH_SERVE_URL"].rstrip("/").removesuffix("/v1"), display_name(model)
    with _SERVED_LOCK:
        if model not in _SERVED:
            from tools.local_server import serve_in_thread

            _SERVED[model] = serve_in_thread(create_app(model_spec=model), name=f"apps.serve[{display_name(model)}]")
    return _SERVED[model], display_name(model)


def run_langgraph_report(request: str, *, model: str = "local", out_dir: str | Path = "out/analysts",
                         **context_fields) -> dict:
    """The LangGraph supervisor team's run: {report, chart_path, day, tickers, routing, messages}.
    Other `graphs.analysts.context.Context` fields (model_routing, model_notes, ...) pass through;
    unset ones come from the environment."""
    from graphs.analysts.context import Context
    from graphs.analysts.graph import graph

    context = Context(model=model, out_dir=str(out_dir), **context_fields)
    state = graph.invoke({"messages": [("human", request)]}, context=context)
    return {"report": state["report"], "chart_path": state["chart_path"], "day": state["day"],
            "tickers": state["tickers"], "routing": state["routing"],
            "messages": [{"name": m.name or m.type, "content": m.content} for m in state["messages"]]}


def run_report(request: str, *, engine: str = "langgraph", model: str = "local",
               out_dir: str | Path = "out/analysts") -> dict:
    """Either team's run; adds `engine` and `report_path` (report-<day>.md beside the chart)."""
    if engine not in ENGINES:
        raise ValueError(f"Unknown engine {engine!r}: use one of {', '.join(ENGINES)}.")
    if engine == "autogen":
        from agents.market.autogen_team import run_autogen_report

        base_url, served_name = serve_model(model)
        result = run_autogen_report(request, base_url=base_url, model=served_name, out_dir=out_dir)
    else:
        result = run_langgraph_report(request, model=model, out_dir=out_dir)
    return {**result, "engine": engine, "report_path": str(Path(out_dir) / f"report-{result['day']}.md")}


def trace_lines(result: dict) -> list[str]:
    """What the team did, one line per supervisor decision (LangGraph) or tool call (AutoGen)."""
    if result["engine"] == "langgraph":
        return [f"supervisor -> {r['next']} (from {', '.join(r['candidates'])}; decided by {r['decided_by']})"
                for r in result["routing"]]
    return [f"{c['agent']}: {c['name']}({json.dumps(c['arguments'])})" + (" -> error" if c["is_error"] else "")
            for c in result["tool_calls"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.analysts", description="Market analysts' daily report")
    parser.add_argument("request", nargs="?", help='e.g. "Daily report for ACME and CLDX on 2026-11-27"')
    parser.add_argument("--engine", choices=ENGINES, default="langgraph")
    parser.add_argument("--model", default=configured_model(), help="chat model spec")
    parser.add_argument("--out", default=os.environ.get("HEARTH_REPORT_DIR", "out/analysts"), help="report folder")
    parser.add_argument("--trace", action="store_true", help="also print routing decisions / tool calls")
    parser.add_argument("--ui", action="store_true", help="start the Streamlit page instead")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HEARTH_PORT", 8501)))
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv)
    import models  # noqa: F401  (offline switches, inherited by Streamlit)

    if args.ui:
        os.environ["HEARTH_MODEL"] = args.model
        print(f"Starting the analysts on http://{args.address}:{args.port} (Ctrl+C to stop)", flush=True)
        os.execv(sys.executable, streamlit_command(PAGE, args.port, args.address))
    if not args.request:
        parser.error('give a request, e.g. "Daily report for ACME and CLDX on 2026-11-27", or --ui')
    try:
        result = run_report(args.request, engine=args.engine, model=args.model, out_dir=args.out)
    except ValueError as exc:  # unknown ticker, bad date
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result["report_path"])
    print(result["report"])
    if args.trace:
        print("\n".join(["", f"# {args.engine} trace", *trace_lines(result)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
