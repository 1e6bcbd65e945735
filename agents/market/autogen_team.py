"""Market analysts as an AutoGen AgentChat team, on the same tools as the LangGraph graph.

    python -m apps.analysts --engine autogen "Daily report for ACME and CLDX on 2026-11-27"

    from agents.market.autogen_team import run_autogen_report
    result = run_autogen_report("Daily report for ACME and CLDX on 2026-11-27", base_url="http://127.0.0.1:8008",
                                out_dir="/tmp/analysts")
    result["report"], result["chart_path"], result["tool_calls"], result["transcript"]

Four `AssistantAgent`s take turns in a `RoundRobinGroupChat`: the news collector calls
`get_headlines`, the sentiment analyst `score_headlines`, the price analyst
`get_price_statistics` (the LangChain tools of `tools.market`, wrapped by AutoGen's
`LangChainToolAdapter`, so their argument validation comes along), and the manager calls
`write_daily_report`, which writes the report with `agents.market.report` (the graph's manager
writes the same report). The chat stops when the manager's tool reports "REPORT WRITTEN", or after
a fixed number of messages.

The agents' model client is AutoGen's `OpenAIChatCompletionClient` pointed at an OpenAI-compatible
endpoint such as `apps.serve`: `base_url`, else `HEARTH_SERVE_URL` (e.g. http://127.0.0.1:8008);
`model` is the model name that endpoint serves. `python -m apps.analysts --engine autogen` starts
`apps.serve` in-process when neither is given. Made for a small model:
- each agent has one tool, and its model context ends with the next call it should make for the
  request ("Next, call the tool get_headlines with these arguments: {...}"), so it works through
  the tickers instead of repeating the first one;
- tool calls are required whenever tools are offered (the served model decodes them under a
  grammar, so they are schema-valid), one per ticker (`max_tool_iterations`);
- a model error becomes that agent's text reply, so the team goes on;
- the report is composed from the data source, so it is complete whatever the analysts did;
  `tool_calls` and `transcript` record what the model actually did.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

DONE_TEXT = "REPORT WRITTEN"
ROLES = ["news_collector", "sentiment_analyst", "price_analyst", "manager"]

ROLE_PROMPTS = {
    "news_collector": "You are the news collector of a market team: you fetch each ticker's headlines for the day.",
    "sentiment_analyst": "You are the sentiment analyst of a market team: you score each ticker's headlines.",
    "price_analyst": "You are the price analyst of a market team: you study each ticker's recent prices.",
    "manager": "You are the manager of a market team: when your analysts have reported, you write the daily report.",
}
NEXT_CALL_PROMPT = "Next, call the tool {name} with these arguments: {arguments}"
SUMMARY_FORMAT = "{tool_name}({arguments}) -> {result}"



class ServeUrlMissing(RuntimeError):
    """No OpenAI-compatible endpoint was given for the team's model."""


def served_url(base_url: str | None = None) -> str:
    """The endpoint's base URL (without /v1): `base_url`, else HEARTH_SERVE_URL."""
    url = base_url or os.environ.get("HEARTH_SERVE_URL")
    if not url:
        raise ServeUrlMissing("The AutoGen team needs an OpenAI-compatible endpoint: start one with "
                              "`python -m apps.serve` and set HEARTH_SERVE_URL=http://127.0.0.1:8008, pass base_url=..., "
                              "or run `python -m apps.analysts --engine autogen`, which starts one in-process.")
    return url.rstrip("/").removesuffix("/v1")


def model_client(base_url: str, model: str = "local"):
    """AutoGen's OpenAI client for the endpoint's model `model`; tool calls required whenever tools are offered."""
    client_class = _tool_first_client_class()
    return client_class(model=model, base_url=f"{base_url}/v1", api_key="not-needed",
                        model_info=served_model_info(), max_retries=0, timeout=300.0)


def served_model_info():
    """What AutoGen may ask of an apps.serve model: tools and JSON (grammar-constrained), no images."""
    from autogen_core.models import ModelInfo

    return ModelInfo(vision=False, function_calling=True, json_output=True, family="unknown",
                     structured_output=True, multiple_system_messages=False)


def _tool_first_client_class():
    from autogen_core import CancellationToken
    from autogen_core.models import CreateResult, LLMMessage, RequestUsage
    from autogen_core.tools import Tool, ToolSchema
    from autogen_ext.models.openai import OpenAIChatCompletionClient
    from openai import APIError

    class ToolFirstChatClient(OpenAIChatCompletionClient):
        """Asks for a tool call whenever tools are offered (a small model otherwise tends to chat),
        and turns a failed model call into a text reply that names the error."""

        async def create(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = [],
                         tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
                         json_output: Any = None, extra_create_args: Mapping[str, Any] = {},
                         cancellation_token: CancellationToken | None = None) -> CreateResult:
            if tools and tool_choice == "auto":
                tool_choice = "required"
            try:
                return await super().create(messages, tools=tools, tool_choice=tool_choice, json_output=json_output,
                                            extra_create_args=extra_create_args, cancellation_token=cancellation_token)
            except APIError as exc:
                return CreateResult(finish_reason="unknown", content=f"(model error: {exc.message})",
                                    usage=RequestUsage(prompt_tokens=0, completion_tokens=0), cached=False)

    return ToolFirstChatClient


def planned_calls(source, day: str, tickers: list[str], lookback_days: int) -> dict[str, list[tuple[str, dict]]]:
    """Role -> the tool calls it should make for the request, in order (each agent is told the next one)."""
    from agents.market.report import collect_headlines

    titles = collect_headlines(source, tickers, day)
    return {"news_collector": [("get_headlines", {"ticker": t, "day": day}) for t in tickers],
            "sentiment_analyst": [("score_headlines", {"headlines": titles[t]}) for t in tickers],
            "price_analyst": [("get_price_statistics", {"ticker": t, "end": day, "days": lookback_days})
                              for t in tickers],
            "manager": [("write_daily_report", {"day": day, "tickers": tickers})]}


def next_call_context(planned: list[tuple[str, dict]]):
    """An agent's model context that ends with the next planned call it has not made yet: a small
    model then calls each ticker in turn instead of repeating the first one."""
    from autogen_core.model_context import UnboundedChatCompletionContext
    from autogen_core.models import AssistantMessage, UserMessage

    def made(name: str, arguments: dict, calls: list) -> bool:
        return any(c.name == name and all(args.get(k, v) == v for k, v in arguments.items())
                   for c in calls for args in [_arguments(c.arguments)] if isinstance(args, dict))

    class NextCallContext(UnboundedChatCompletionContext):
        async def get_messages(self):
            own_calls = [m for m in self._messages if isinstance(m, AssistantMessage) and isinstance(m.content, list)]
            calls = [c for m in own_calls for c in m.content]
            # After its first call the agent sees only its next call: a small model otherwise copies
            # the first ticker it sees (its own last call, or the request's first ticker).
            messages = [] if own_calls else list(self._messages)
            left = [(name, args) for name, args in planned if not made(name, args, calls)]
            if left:
                name, args = left[0]
                messages.append(UserMessage(content=NEXT_CALL_PROMPT.format(name=name, arguments=json.dumps(args)),
                                            source="coordinator"))
            return messages

    return NextCallContext()


def _arguments(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_team(client, source, day: str, tickers: list[str], lookback_days: int, out_dir: str | Path,
               written: dict):
    """The four agents in a round-robin chat; `written` receives what the manager's tool wrote."""
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_core.tools import FunctionTool
    from autogen_ext.tools.langchain import LangChainToolAdapter

    from agents.market.report import collect_findings, write_report
    from tools.market import market_tools

    def write_daily_report(day: str, tickers: list[str]) -> str:
        """Write the daily market report (markdown table, headlines, price chart) for the tickers on the day."""
        asked = {"day": day, "tickers": [str(t).upper() for t in tickers]}
        findings = collect_findings(source, request_day, request_tickers, lookback_days)
        report, chart = write_report(source, findings, out_dir)
        written.update(report=report, chart_path=str(chart), asked=asked)
        differs = asked != {"day": request_day, "tickers": request_tickers}
        return (f"{DONE_TEXT}: {Path(out_dir) / f'report-{request_day}.md'} covers {', '.join(request_tickers)} on "
                f"{request_day}" + (f" (as requested; the call asked for {asked})." if differs else "."))

    request_day, request_tickers = day, tickers
    adapted = {t.name: LangChainToolAdapter(t) for t in market_tools(source)}
    tools = {"news_collector": adapted["get_headlines"], "sentiment_analyst": adapted["score_headlines"],
             "price_analyst": adapted["get_price_statistics"],
             "manager": FunctionTool(write_daily_report, description=write_daily_report.__doc__)}
    plans = planned_calls(source, day, tickers, lookback_days)
    agents = [AssistantAgent(role, client, tools=[tools[role]], system_message=ROLE_PROMPTS[role],
                             description=ROLE_PROMPTS[role], model_context=next_call_context(plans[role]),
                             max_tool_iterations=len(plans[role]), tool_call_summary_format=SUMMARY_FORMAT)
              for role in ROLES]
    stop = TextMentionTermination(DONE_TEXT, sources=["manager"]) | MaxMessageTermination(1 + 2 * len(ROLES))
    return RoundRobinGroupChat(agents, termination_condition=stop)


def _describe(message) -> dict:
    content = message.content
    if isinstance(content, list):  # tool call requests / results
        content = [asdict(c) if is_dataclass(c) else c.model_dump() if hasattr(c, "model_dump") else str(c)
                   for c in content]
    return {"source": message.source, "type": type(message).__name__, "content": content}


def tool_calls_in(messages) -> list[dict]:
    """Every tool call the agents' model made, with its result: {agent, name, arguments, result, is_error}."""
    from autogen_agentchat.messages import ToolCallExecutionEvent, ToolCallRequestEvent

    calls, by_id = [], {}
    for message in messages:
        if isinstance(message, ToolCallRequestEvent):
            for call in message.content:
                by_id[call.id] = {"agent": message.source, "name": call.name, "arguments": _arguments(call.arguments),
                                  "result": None, "is_error": None}
                calls.append(by_id[call.id])
        elif isinstance(message, ToolCallExecutionEvent):
            for result in message.content:
                if result.call_id in by_id:
                    by_id[result.call_id].update(result=result.content, is_error=result.is_error)
    return calls


async def arun_autogen_report(request: str, *, base_url: str | None = None, model: str = "local",
                              out_dir: str | Path = "out/analysts", lookback_days: int = 30, source=None,
                              default_day: str = "2026-11-27") -> dict:
    """The team's run for one request: {report, chart_path, day, tickers, transcript, tool_calls,
    stop_reason, manager_wrote_report}. `base_url`/`model`: the OpenAI-compatible endpoint and the
    model name it serves (default HEARTH_SERVE_URL, "local")."""
    from tools.market_data import SampleMarketData
    from agents.market.report import collect_findings, parse_request, write_report

    # AutoGen only traces through OpenTelemetry when an app installs an exporter; switch the spans off anyway.
    os.environ.setdefault("AUTOGEN_DISABLE_RUNTIME_TRACING", "true")
    source = source or SampleMarketData()
    day, tickers = parse_request(request, source=source, default_day=default_day)
    client = model_client(served_url(base_url), model)
    written: dict = {}
    try:
        team = build_team(client, source, day, tickers, lookback_days, out_dir, written)
        result = await team.run(task=f"{request.strip()}\n(Tickers: {', '.join(tickers)}; day: {day}.)")
    finally:
        await client.close()
    if not written:  # the manager never called its tool: the report is still due
        report, chart = write_report(source, collect_findings(source, day, tickers, lookback_days), out_dir)
        written.update(report=report, chart_path=str(chart))
    return {"report": written["report"], "chart_path": written["chart_path"], "day": day, "tickers": tickers,
            "transcript": [_describe(m) for m in result.messages], "tool_calls": tool_calls_in(result.messages),
            "stop_reason": result.stop_reason, "manager_wrote_report": "asked" in written}


def run_autogen_report(request: str, **options) -> dict:
    """`arun_autogen_report` for synchronous callers (also from inside a running event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(arun_autogen_report(request, **options))
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = asyncio.run(arun_autogen_report(request, **options))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="autogen-team")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
