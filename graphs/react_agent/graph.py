"""ReAct agent: the model calls tools (in parallel when it asks for several), sees their results
and errors, and calls again until it can answer. Risky calls (unlock a door, disarm the alarm,
open the garage) pause the graph with a LangGraph interrupt until the user confirms.

    python -m apps.home                                   # Streamlit: chat beside a live device panel
    python -m apps.home --ask "make it warmer in here"    # one command from the CLI
    langgraph dev --no-browser                            # graph "react_agent" in Studio

    plan --(tool calls)--> [confirm] --> act --> plan ... --> END
         \\--(an answer)--> END

`plan` first lets the toolset's sentence matcher handle commands it recognises (Context
`local_commands`), and asks the model otherwise. A failed call goes back to the model with the
error; after `max_tool_errors` failures in a row, or one step before the recursion limit, the
agent answers with what it has instead of raising.
"""

from __future__ import annotations

import json
import uuid
from functools import lru_cache
from typing import Literal

from langchain_core.messages import AIMessage, SystemMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from graphs.react_agent import prompts
from graphs.react_agent.context import Context
from graphs.react_agent.state import InputState, State
from models.messages import last_human_text


@lru_cache(maxsize=8)
def _toolset(name: str, hub_url: str, exposed: str):
    from tools.registry import load_toolset

    return load_toolset(name, hub_url=hub_url, exposed=[e.strip() for e in exposed.split(",") if e.strip()] or None)


def toolset_for(context: Context):
    return _toolset(context.toolset, context.hub_url, context.exposed)


def _findings(state: State) -> str:
    results = [m.content for m in state.messages if isinstance(m, ToolMessage) and m.status != "error"]
    return "\n".join(f"- {r}" for r in results[-5:]) or "- nothing yet"


def plan(state: State, runtime: Runtime[Context]) -> dict:
    """Decide the next tool calls, or answer."""
    from models import load_chat_model

    context = runtime.context or Context()
    toolset = toolset_for(context)
    # a fresh request (the last message is the human's), not a turn after a tool answered
    text = state.messages[-1].text if state.messages and state.messages[-1].type == "human" else None
    assisted = context.assisted()  # off for a tool-call fine-tune: it does better alone
    if text is not None and assisted and context.local_commands and toolset.match_command is not None:
        calls = toolset.match_command(text)
        if calls:
            return {"messages": [AIMessage(content="", tool_calls=[
                {"name": c["name"], "args": c["args"], "id": f"call_{uuid.uuid4().hex[:12]}"} for c in calls],
                additional_kwargs={"planned_by": "sentence matcher"})]}
    if state.is_last_step:
        return {"messages": [AIMessage(content=prompts.RECURSION_LIMIT_ANSWER.format(
            steps=len(state.messages), findings=_findings(state)))]}
    system = SystemMessage(content=prompts.SYSTEM_PROMPT.format(toolset_notes=toolset.notes))
    request = last_human_text(state.messages)
    may_route = assisted and context.tool_routing_threshold > 0 and not _tools_already_ran(state)
    tools, routed = offered_tools(toolset.tools, request, context.tool_shortlist if assisted else 0,
                                  context.tool_routing_threshold if may_route else 0.0, context.tool_routing_margin,
                                  context.embeddings)
    if routed is not None:
        model = load_chat_model(context.model).bind_tools([routed], tool_choice=routed.name)
    else:
        model = load_chat_model(context.model).bind_tools(tools, tool_choice="auto", parallel_tool_calls=True)
    reply = model.invoke([system, *state.messages])
    if reply.tool_calls and _repeats_a_done_call(state, reply.tool_calls):
        # Small models often ask again for what they already have: answer from the results instead.
        return {"messages": [AIMessage(content=_summary_of_results(state))]}
    return {"messages": [reply]}


def offered_tools(tools: list, request: str, shortlist: int, routing_threshold: float, routing_margin: float,
                  embeddings_spec: str) -> tuple[list, object | None]:
    """What the plan step shows the model: the shortlisted tools, and the one tool the request clearly
    asks for (then forced) or None. One ranking (one query embedding) serves both."""
    ranked = rank_tools(tools, request, embeddings_spec) if request and (
        routing_threshold > 0 or 0 < shortlist < len(tools)) else None
    kept = shortlist_tools(tools, request, shortlist, embeddings_spec, ranked)
    routed = route_to_tool(kept, request, routing_threshold, routing_margin, embeddings_spec, ranked) \
        if routing_threshold > 0 else None
    return kept, routed


def rank_tools(tools: list, request: str, embeddings_spec: str) -> list[tuple[object, float]]:
    """(tool, cosine similarity of its name and description to the request), best first."""
    import numpy as np

    from models import load_embeddings

    vectors = np.array(_tool_vectors(embeddings_spec, tuple(f"{t.name.replace('_', ' ')}: {t.description}" for t in tools)))
    query = np.array(load_embeddings(embeddings_spec).embed_query(request))
    scores = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query) + 1e-9)
    return sorted(zip(tools, scores.tolist()), key=lambda pair: -pair[1])


def shortlist_tools(tools: list, request: str, limit: int, embeddings_spec: str, ranked: list | None = None) -> list:
    """The `limit` tools whose name and description are closest to the request, in their original order
    (all of them when limit is 0). `ranked`: `rank_tools`' answer for these tools, when already known."""
    if limit <= 0 or len(tools) <= limit or not request:
        return tools
    kept = {id(t) for t, _ in (ranked or rank_tools(tools, request, embeddings_spec))[:limit]}
    return [t for t in tools if id(t) in kept]


def route_to_tool(tools: list, request: str, threshold: float, margin: float, embeddings_spec: str,
                  ranked: list | None = None):
    """The one tool the request clearly asks for (similarity >= threshold and ahead of the next by
    `margin`), or None. Small models then only fill in the arguments, under the tool's schema.
    `ranked`: `rank_tools`' answer for a superset of `tools`, when already known."""
    if threshold <= 0 or not tools or not request:
        return None
    offered = {id(t) for t in tools}
    ranked = [pair for pair in ranked if id(pair[0]) in offered] if ranked else rank_tools(tools, request, embeddings_spec)
    best, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else -1.0
    return best if score >= threshold and score - runner_up >= margin else None


@lru_cache(maxsize=32)
def _tool_vectors(embeddings_spec: str, descriptions: tuple[str, ...]) -> list:
    from models import load_embeddings

    return load_embeddings(embeddings_spec).embed_documents(list(descriptions))


def _tools_already_ran(state: State) -> bool:
    """Whether a tool has answered since the last human message (then the model should answer, not be forced)."""
    for message in reversed(state.messages):
        if message.type == "human":
            return False
        if isinstance(message, ToolMessage):
            return True
    return False


def _repeats_a_done_call(state: State, calls: list[dict]) -> bool:
    succeeded = {m.tool_call_id for m in state.messages if isinstance(m, ToolMessage) and m.status != "error"}
    done = {(c["name"], json.dumps(c["args"], sort_keys=True))
            for m in state.messages if isinstance(m, AIMessage) for c in m.tool_calls if c["id"] in succeeded}
    return all((c["name"], json.dumps(c["args"], sort_keys=True)) in done for c in calls)


def _summary_of_results(state: State) -> str:
    latest = []
    for m in reversed(state.messages):
        if not isinstance(m, ToolMessage):
            break
        latest.append(m.content if m.status != "error" else f"Failed: {m.content}")
    return "\n".join(reversed(latest)) or "Done."


def route_after_plan(state: State, runtime: Runtime[Context]) -> Literal["confirm", "act", "__end__"]:
    last = state.messages[-1]
    if not isinstance(last, AIMessage) or not last.tool_calls:
        return END
    toolset = toolset_for(runtime.context or Context())
    return "confirm" if any(toolset.is_risky(c["name"], c["args"]) for c in last.tool_calls) else "act"


def confirm(state: State, runtime: Runtime[Context]) -> Command[Literal["act", "__end__"]]:
    """Pause until the user says yes or no to the risky calls (resume with Command(resume=...))."""
    toolset = toolset_for(runtime.context or Context())
    calls = state.messages[-1].tool_calls
    risky = [c for c in calls if toolset.is_risky(c["name"], c["args"])]
    action = " and ".join(toolset.describe_call(c["name"], c["args"]) for c in risky)
    answer = interrupt({"question": prompts.CONFIRM_QUESTION.format(action=action), "tool_calls": risky})
    approved = answer is True or str(answer).strip().lower() in ("y", "yes", "ok", "confirm", "true", "sure")
    if approved:
        return Command(goto="act")
    declined = [ToolMessage(content="The user declined this action.", tool_call_id=c["id"], name=c["name"], status="error")
                for c in calls]
    return Command(goto=END, update={"messages": [*declined, AIMessage(content=prompts.DECLINED.format(action=action))]})


def act(state: State, runtime: Runtime[Context]) -> dict:
    """Run the requested calls; a failure becomes an error result the model can fix."""
    toolset = toolset_for(runtime.context or Context())
    tools = toolset.by_name()
    results, failed = [], 0
    for call in state.messages[-1].tool_calls:
        tool = tools.get(call["name"])
        try:
            if tool is None:
                raise ValueError(f"There is no tool {call['name']!r}; the tools are {', '.join(tools)}.")
            output, status = str(tool.invoke(call["args"])), "success"
        except Exception as exc:  # noqa: BLE001 - the error goes back to the model and the user
            output, status = _error_text(exc), "error"
            failed += 1
        results.append(ToolMessage(content=output, tool_call_id=call["id"], name=call["name"], status=status))
    return {"messages": results, "tool_errors": state.tool_errors + 1 if failed else 0}


def _error_text(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):  # pydantic: say which argument and why, without the docs link
        try:
            return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors())
        except Exception:  # noqa: BLE001
            pass
    return str(exc)


def route_after_act(state: State, runtime: Runtime[Context]) -> Literal["plan", "report"]:
    context = runtime.context or Context()
    calls_message = next(m for m in reversed(state.messages) if isinstance(m, AIMessage) and m.tool_calls)
    if state.tool_errors >= context.max_tool_errors:
        return "report"
    if calls_message.additional_kwargs.get("planned_by") and state.tool_errors == 0:
        return "report"  # a recognised command that worked: say what changed, no model needed
    return "plan"


def report(state: State) -> dict:
    """Answer from the tool results: what changed, or why it could not be done."""
    if state.tool_errors:
        errors = [m.content for m in state.messages[-6:] if isinstance(m, ToolMessage) and m.status == "error"]
        return {"messages": [AIMessage(content=prompts.GAVE_UP.format(error=errors[-1] if errors else "tool errors"))]}
    return {"messages": [AIMessage(content=_summary_of_results(state))]}


builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(plan)
builder.add_node(confirm)
builder.add_node(act)
builder.add_node(report)
builder.add_edge(START, "plan")
builder.add_conditional_edges("plan", route_after_plan)
builder.add_conditional_edges("act", route_after_act)
builder.add_edge("report", END)

graph = builder.compile(name="react_agent")
