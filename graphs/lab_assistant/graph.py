"""Lab assistant: plain-language requests -> lab tool calls -> background jobs -> a summary.

    python -m apps.lab "train a 2,000-token BPE on the legal opinions and compare it with GPT-4's tokenizer"
    langgraph dev --no-browser                                  # graph "lab_assistant" in Studio

    plan_request --(steps)--> run_step <--> wait_for_job --(done)--> summarise
                 \                         \--(still running after wait_seconds)--> report_pending
                  \--(nothing to run)--> answer_directly

`plan_request` reads the request with a deterministic parser (training/lab_requests.py:
numbers such as "2,000-token", corpus names, "GPT-4" -> cl100k_base). Only what the parser
cannot settle goes to the chat model, bound to the lab tools (`bind_tools`, grammar-constrained
on the embedded models, so every call is schema-valid); the model's arguments are then checked
against the tool schema and against the request (the parser's values win). Long tools
(tokenizer training, pretraining) start background jobs (tools.jobs); `wait_for_job` looks at the
job every `poll_seconds`, streaming progress (stream_mode="custom"), for up to `wait_seconds`,
then either continues the plan or answers with the job id; a later turn ("status?") in the same
thread picks the plan up again. Answers are written from templates, with the numbers.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import ValidationError

from graphs.lab_assistant import prompts
from graphs.lab_assistant.context import Context
from graphs.lab_assistant.state import InputState, State
from models.messages import last_human_text
from training.lab_requests import Step, find_corpus, parse_request

BACKGROUND_TOOLS = {"train_bpe_tokenizer", "pretrain_minigpt"}
CONTINUE_WORDS = re.compile(r"\b(status|continue|progress|done|finished|result|results|ready|wait|still|now)\b", re.I)
LAB_WORDS = re.compile(r"train|tokeni[sz]|bpe|gram|gpt|model|perplexity|sample|generate|compare|corpus|"
                       r"legal|alice|xquad|pubmed", re.I)
MAX_WAIT_PER_VISIT = 10.0   # seconds one wait_for_job visit polls before handing back to the graph


def _tools():
    from training.lab_tools import LAB_TOOLS, TOOLS_BY_NAME

    return LAB_TOOLS, TOOLS_BY_NAME


def _emit(event: dict) -> None:
    """Progress for stream_mode="custom" (a no-op outside a streaming run)."""
    try:
        get_stream_writer()(event)
    except Exception:  # noqa: BLE001 - no stream writer when invoked without streaming
        pass


def _validated(tool, args: dict) -> tuple[dict | None, str]:
    try:
        return tool.args_schema(**args).model_dump(exclude_none=True), ""
    except ValidationError as exc:
        from training.lab_tools import _validation_message

        return None, _validation_message(exc)


def fill_arguments(step: Step, request: str, context: Context) -> tuple[dict | None, str, str]:
    """Arguments for `step`: the parser's, completed by the model for what is `missing`.
    Returns (args or None, who settled them, a note)."""
    from models import load_chat_model

    _, by_name = _tools()
    tool = by_name[step.tool]
    if not step.missing:
        args, error = _validated(tool, step.args)
        return args, "parser", error
    llm = load_chat_model(context.model).bind_tools([tool], tool_choice=tool.name)
    reply = llm.invoke([SystemMessage(content=prompts.ARGUMENTS_PROMPT), HumanMessage(content=request)])
    proposed = reply.tool_calls[0]["args"] if getattr(reply, "tool_calls", None) else {}
    filled = {k: v for k, v in proposed.items() if k in step.missing}
    args, error = _validated(tool, {**filled, **step.args})   # the parser's values win
    if args is not None:
        return args, "parser+model", f"{', '.join(step.missing)} chosen by the model: " + ", ".join(
            f"{k}={args.get(k)!r}" for k in step.missing)
    return None, "parser+model", (f"I could not settle {', '.join(step.missing)} for {step.tool} ({error}). "
                                  "Say it in the request, e.g. 'a 2,000-token BPE on the legal opinions'.")


def propose_step(request: str, context: Context) -> tuple[Step | None, str]:
    """When the parser found no lab step: let the model pick a tool, then check it against the request."""
    from models import load_chat_model

    if not LAB_WORDS.search(request):
        return None, ""
    lab_tools, by_name = _tools()
    actions = [t for t in lab_tools if t.name != "job_status"]
    reply = load_chat_model(context.model).bind_tools(actions, tool_choice="auto").invoke(
        [SystemMessage(content=prompts.ARGUMENTS_PROMPT), HumanMessage(content=request)])
    calls = getattr(reply, "tool_calls", None) or []
    if not calls or calls[0]["name"] not in by_name:
        return None, ""
    args = dict(calls[0]["args"])
    named = find_corpus(request.lower())
    for key in ("corpus", "text_or_corpus"):
        if named and key in args:
            args[key] = named   # the corpus the request names beats the model's guess
    checked, error = _validated(by_name[calls[0]["name"]], args)
    if checked is None:
        return None, f"The model proposed {calls[0]['name']} with unusable arguments ({error})."
    return Step(calls[0]["name"], checked), f"Tool and arguments proposed by the model: {calls[0]['name']}."


def plan_request(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    request = last_human_text(state.messages).strip()
    pending = state.waiting_job or state.step < len(state.plan)
    if pending and CONTINUE_WORDS.search(request) and not parse_request(request).steps:
        _emit({"event": "continue", "job_id": state.waiting_job})
        return {"request": request, "waited_seconds": 0.0, "notes": []}
    parsed = parse_request(request)
    notes, plan = list(parsed.notes), []
    steps = parsed.steps
    if not steps:
        proposed, note = propose_step(request, context)
        steps = [proposed] if proposed else []
        notes += [note] if note else []
    for step in steps:
        if context.max_chars and "max_chars" not in step.args and step.tool in (
                "train_bpe_tokenizer", "compare_tokenizers", "train_ngram_model", "pretrain_minigpt"):
            step.args["max_chars"] = context.max_chars
        if step.tool in ("sample_text", "evaluate_perplexity") and step.uses:
            args, source, note = dict(step.args), "parser", ""      # checkpoint comes from an earlier step
        else:
            args, source, note = fill_arguments(step, request, context)
        if args is None:
            notes.append(note)
            plan = []
            break
        if note and source != "parser":
            notes.append(note)
        plan.append({"tool": step.tool, "args": args, "uses": {k: list(v) for k, v in step.uses.items()}, "source": source})
    _emit({"event": "plan", "steps": [f"{s['tool']}({json.dumps(s['args'])})" for s in plan], "notes": notes})
    return {"request": request, "plan": plan, "step": 0, "results": [], "waiting_job": "", "waited_seconds": 0.0,
            "notes": [n for n in notes if n]}


def route_after_plan(state: State) -> Literal["run_step", "wait_for_job", "answer_directly"]:
    if state.waiting_job:
        return "wait_for_job"
    return "run_step" if state.step < len(state.plan) else "answer_directly"


def run_step(state: State) -> dict:
    _, by_name = _tools()
    planned = state.plan[state.step]
    args = dict(planned["args"])
    for arg, (index, key) in planned.get("uses", {}).items():
        earlier = state.results[index] if index < len(state.results) else None
        if not earlier or not earlier["ok"] or key not in (earlier.get("result") or {}):
            result = {"tool": planned["tool"], "args": args, "ok": False,
                      "error": f"skipped: step {index + 1} ({state.plan[index]['tool']}) gave no {key}"}
            return {"results": [*state.results, result], "step": state.step + 1}
        args[arg] = earlier["result"][key]
    call_id = f"call_{uuid.uuid4().hex[:12]}"
    _emit({"event": "tool_call", "tool": planned["tool"], "args": args})
    output = by_name[planned["tool"]].invoke(args)
    ok = isinstance(output, dict)
    result = {"tool": planned["tool"], "args": args, "ok": ok, "source": planned.get("source", "parser"),
              **({"result": output} if ok else {"error": str(output)})}
    waiting = output["job_id"] if ok and planned["tool"] in BACKGROUND_TOOLS else ""
    messages = [AIMessage(content="", tool_calls=[{"name": planned["tool"], "args": args, "id": call_id}]),
                ToolMessage(content=json.dumps(output, default=str) if ok else str(output), tool_call_id=call_id,
                            name=planned["tool"], status="success" if ok else "error")]
    return {"results": [*state.results, result], "step": state.step + 1, "waiting_job": waiting,
            "waited_seconds": 0.0, "messages": messages}


def route_after_step(state: State) -> Literal["wait_for_job", "run_step", "summarise"]:
    if state.waiting_job:
        return "wait_for_job"
    return "run_step" if state.step < len(state.plan) else "summarise"


def wait_for_job(state: State, runtime: Runtime[Context]) -> dict:
    """Look at the job every poll_seconds for up to MAX_WAIT_PER_VISIT; the job runs on its own thread."""
    from tools import jobs

    context = runtime.context or Context()
    waited, visit_started = state.waited_seconds, time.monotonic()
    while True:
        try:
            job = jobs.status(state.waiting_job)
        except KeyError as exc:
            job = {"state": "failed", "error": str(exc.args[0]), "progress": 0.0, "message": "lost"}
        _emit({"event": "job", "job_id": state.waiting_job, "state": job["state"], "progress": job["progress"],
               "message": job["message"]})
        if job["state"] in ("done", "failed"):
            break
        if waited >= context.wait_seconds or time.monotonic() - visit_started >= MAX_WAIT_PER_VISIT:
            return {"waited_seconds": waited}
        pause = min(context.poll_seconds, max(0.05, context.wait_seconds - waited))
        time.sleep(pause)
        waited += pause
    results = list(state.results)
    index = next(i for i in range(len(results) - 1, -1, -1)
                 if isinstance(results[i].get("result"), dict) and results[i]["result"].get("job_id") == state.waiting_job)
    finished = dict(results[index])
    if job["state"] == "done":
        finished["result"] = {**job["result"], "job_id": state.waiting_job}
    else:
        finished.update(ok=False, error=f"job {state.waiting_job} failed: {job['error']}")
    results[index] = finished
    return {"results": results, "waiting_job": "", "waited_seconds": waited}


def route_after_wait(state: State, runtime: Runtime[Context]) -> Literal["wait_for_job", "run_step", "summarise", "report_pending"]:
    context = runtime.context or Context()
    if state.waiting_job:
        if state.waited_seconds >= context.wait_seconds or state.remaining_steps <= 4:
            return "report_pending"
        return "wait_for_job"
    return "run_step" if state.step < len(state.plan) else "summarise"


def report_pending(state: State) -> dict:
    from tools import jobs

    try:
        job = jobs.status(state.waiting_job)
    except KeyError:
        job = {"state": "unknown", "progress": 0.0, "message": "not found"}
    done_part = describe_results([r for r in state.results if not (r.get("result") or {}).get("job_id") == state.waiting_job])
    text = prompts.PENDING_ANSWER.format(job_id=state.waiting_job, state=job["state"], percent=100 * job["progress"],
                                         message=job["message"])
    return {"messages": [AIMessage(content=(done_part + "\n\n" + text).strip(),
                                   additional_kwargs={"job_id": state.waiting_job})]}


def _tokenizer_label(name: str) -> str:
    return prompts.TOKENIZER_LABELS.get(name, name)


def describe_result(entry: dict) -> str:
    """One paragraph per finished step, written from the numbers."""
    tool, r = entry["tool"], entry.get("result") or {}
    if not entry["ok"]:
        return f"- {tool} failed: {entry['error']}"
    if tool == "train_bpe_tokenizer":
        return (f"- Trained a {r['vocab_size']:,}-token byte-level BPE on {r['corpus']} ({r['training_chars']:,} characters, "
                f"{r['merges']:,} merges, {r['seconds']} s). Saved to {r['tokenizer_path']}.")
    if tool == "compare_tokenizers":
        rows = r["rows"]
        lines = [f"- Tokenizers on {r['text']} ({r['characters']:,} characters):",
                 "  | tokenizer | tokens | chars/token | tokens/word | exact round trip |",
                 "  |---|---:|---:|---:|---|"]
        lines += [f"  | {_tokenizer_label(x['name'])} | {x['tokens']:,} | {x['chars_per_token']:.2f} | "
                  f"{x['tokens_per_word']:.2f} | {'yes' if x['round_trip_exact'] else 'no'} |" for x in rows]
        ours = next((x for x in rows if x["name"] == "ours-bpe"), None)
        for other in (x for x in rows if x["name"] != "ours-bpe"):
            if ours:
                ratio = ours["tokens"] / max(1, other["tokens"])
                lines.append(f"  Our BPE: {ours['chars_per_token']:.2f} chars/token vs {_tokenizer_label(other['name'])}: "
                             f"{other['chars_per_token']:.2f}; ours needs {ratio:.2f}x as many tokens for this text.")
        return "\n".join(lines)
    if tool == "train_ngram_model":
        return (f"- {r['order']}-gram character model on {r['corpus']} (add-k, k={r['k']}): vocabulary {r['vocab_size']}, "
                f"held-out perplexity {r['held_out_perplexity']}. Sample: {r['sample'][:160]!r}")
    if tool == "pretrain_minigpt":
        return (f"- Pretrained mini-GPT ({r['position']}, {r['parameters']:,} parameters) for {r['step']} steps: "
                f"train loss {r['train_loss']}, validation perplexity {r['val_perplexity']}. Checkpoint: "
                f"{r['checkpoint']}; loss curve: {r['loss_curve']}.")
    if tool == "evaluate_perplexity":
        return (f"- Perplexity of {r['checkpoint']} on {r['corpus']} at context {r['context_length']}: {r['perplexity']}.")
    if tool == "sample_text":
        return f"- Sample: {r['prompt'] + r['text']!r}"
    if tool == "job_status":
        line = f"- Job {r['id']}: {r['state']} ({100 * r['progress']:.0f}%, {r['message']})."
        if r.get("error"):
            line += f" Error: {r['error']}"
        if r.get("result"):
            line += f" Result: {json.dumps(r['result'], default=str)[:400]}"
        return line
    return f"- {tool}: {json.dumps(r, default=str)[:400]}"


def describe_results(results: list[dict]) -> str:
    lines = [describe_result(entry) for entry in results]
    trained = {(r.get("result") or {}).get("tokenizer_path"): (r.get("result") or {}).get("corpus")
               for r in results if r["tool"] == "train_bpe_tokenizer" and r["ok"]}
    for entry in results:
        r = entry.get("result") or {}
        if entry["tool"] == "compare_tokenizers" and entry["ok"] and trained.get(r.get("tokenizer_path")) == r.get("text"):
            lines.append(f"  (Our BPE was trained on {r['text']} itself, which favours it; compare on another corpus "
                         "for a held-out view.)")
    return "\n".join(lines)


def summarise(state: State) -> dict:
    text = describe_results(state.results)
    if state.notes:
        text += "\n" + "\n".join(f"({note})" for note in state.notes)
    return {"messages": [AIMessage(content=text, additional_kwargs={"lab_results": state.results})]}


def answer_directly(state: State) -> dict:
    text = "\n".join([*state.notes, prompts.CAPABILITIES])
    return {"messages": [AIMessage(content=text)]}


builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(plan_request)
builder.add_node(run_step)
builder.add_node(wait_for_job)
builder.add_node(report_pending)
builder.add_node(summarise)
builder.add_node(answer_directly)
builder.add_edge(START, "plan_request")
builder.add_conditional_edges("plan_request", route_after_plan)
builder.add_conditional_edges("run_step", route_after_step)
builder.add_conditional_edges("wait_for_job", route_after_wait)
builder.add_edge("report_pending", END)
builder.add_edge("summarise", END)
builder.add_edge("answer_directly", END)

graph = builder.compile(name="lab_assistant")
