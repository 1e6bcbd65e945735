"""Local LLM throughput: raw llama.cpp vs. the framework vs. transformers; then tool-call validity.

    python -m evals.bench_llm                       # full run (see "Run time" below)
    python -m evals.bench_llm --quick               # smoke test: 1 repeat, 32 tokens, 10 tool requests
    python -m evals.bench_llm --quick --threads 1 --loads idle --skip-transformers \
        --tool-requests 5 --tool-modes constrained_auto constrained_any            # < 1 minute (the test)
    python -m evals.bench_llm --out out/bench_llm --tokens 96 --repeats 3

Writes `bench_llm.json` (every raw measurement, machine info, versions) and `bench_llm.md`
(the tables, also printed to stdout) into `--out` (default `out/bench_llm/`). Unless
`--skip-tools`, the run ends with the tool-call validity benchmark (`evals/tool_calls.py`, also
runnable alone with `python -m evals.tool_calls`), whose table is appended to the same report.

## Throughput: three paths over the same weights (bundled SmolLM2-135M-Instruct, Q4_1 GGUF)

- (a) raw llama-cpp-python: `Llama(...).create_chat_completion(messages, stream=True,
  temperature=0, max_tokens=N)`, opened with the same settings as the framework
  (`n_ctx=4096, n_batch=512, n_threads=n_threads_batch=T`).
- (b) the framework: `load_chat_model("local?n_threads=T&temperature=0&max_tokens=N")` invoked
  inside a one-node LangGraph `StateGraph`, consumed with `graph.stream(stream_mode="messages")`.
  What it adds on top of (a): LangChain message conversion, callbacks, LangGraph's runner.
- (c) transformers `generate` (greedy, `max_new_tokens=N`) on the same GGUF, dequantized to
  float32 by `AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)`, with
  `torch.set_num_threads(T)`. Needs the `gguf` package; when it is missing the column is skipped
  and the reason recorded.

The prompt is a fixed system + user chat of about 200 tokens (so prefill is measurable) that asks
for a long answer, so every path decodes all N tokens. Each measurement clears llama.cpp's
prefix cache first (`Llama.reset()`), otherwise repeats would skip the prefill.

    time to first token (TTFT)  from the call to the first streamed token (the first content
                                chunk for (a) and (b), a StoppingCriteria timestamp for (c))
    prefill tok/s               prompt tokens / TTFT
    decode tok/s                (completion tokens - 1) / (total time - TTFT)

The first token comes out of the prefill itself, so the decode interval holds completion - 1
token steps. Completion tokens are counted exactly: from llama.cpp's evaluated-token counter for
(a) and (b), from the StoppingCriteria calls for (c). Each measurement runs `--repeats` times
(interleaved a, b, c) and the median is reported.

Conditions: threads T in {1, 2} x load in {idle, busy}. "busy" keeps one core 100% busy with a
separate Python process (`while True: pass`) started before the condition and killed after it.

Why the busy condition does not collapse: llama.cpp here is built with OpenMP, whose worker
threads busy-wait at every barrier. With 2 threads on 2 cores and one core taken by another
process, a spinning thread burns whole time slices waiting for one that is not scheduled, and
decode fell from ~44-75 to <1 tok/s (../shared/MACHINE.md). `import models` sets
`OMP_WAIT_POLICY=PASSIVE` (models/runtime.py) before libgomp initialises, so waiting threads sleep.
This module therefore imports `models` before anything that loads llama.cpp or torch. The extra
row "(a) raw, OMP_WAIT_POLICY unset" (2 threads, busy, skipped under --quick or with
--skip-unset) runs (a) in a subprocess whose environment lacks the variable and does not import
`models`, with a hard timeout; when it times out, the rate is computed from the tokens that
arrived.

Run time: measured once with other processes keeping the load average near 3 (decode about 3x
slower than on an idle machine): 25 minutes, 4 for throughput (without (c)) and 21 for the 150
tool-call requests, which emit up to 4 parallel calls each and sometimes run to max_tokens=512.
On an idle machine that scales to roughly 8-10 minutes, plus 1-2 for (c); estimated, not measured.
"""

from __future__ import annotations

# `models` first: configure_runtime() sets OMP_WAIT_POLICY=PASSIVE (and the offline switches)
# before libgomp is loaded by llama.cpp or torch.
import models  # noqa: I001
from models import load_chat_model
from models.bundled import smollm2_gguf_path

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from evals import tool_calls

N_CTX = 4096
N_BATCH = 512
UNSET_TIMEOUT_S = 60.0
UNSET_MAX_TOKENS = 32

SYSTEM_PROMPT = "You are a knowledgeable, patient assistant who writes long, detailed, well-organised answers."

# About 200 prompt tokens with the chat template around it (checked at run time and recorded).
USER_PROMPT = (
    "I am preparing a talk for a local gardening club about growing vegetables in a small city "
    "garden. Most members have a balcony or a small yard with only four to six hours of sun a day, "
    "heavy clay soil or containers, and very little time on weekdays. Some of them are retired, "
    "some have young children, and a few have never grown anything before. They have asked about "
    "tomatoes, beans, lettuce, herbs, potatoes in bags, and whether composting kitchen scraps is "
    "worth the effort in a flat. They also want to know how to water during hot summers without "
    "wasting water, how to deal with slugs and aphids without strong chemicals, and which tools are "
    "really needed at the start. Please write a long, friendly, step by step guide that I can read "
    "out loud: start with planning the space, then soil and containers, then choosing plants, then "
    "sowing and planting, then watering, then pests, then harvesting, and end with a short summary."
)
MESSAGES = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": USER_PROMPT}]

BUSY_LOOP = "while True:\n    pass\n"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# throughput
# ---------------------------------------------------------------------------------------------
def rates(prompt_tokens: int, completion_tokens: int, ttft: float, total: float) -> dict:
    """One measurement's numbers.

    >>> r = rates(200, 97, 1.0, 3.0)
    >>> r["prefill_tps"], r["decode_tps"]
    (200.0, 48.0)
    """
    decode_time = total - ttft
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "ttft_s": round(ttft, 4),
        "total_s": round(total, 4),
        "prefill_tps": round(prompt_tokens / ttft, 2) if ttft > 0 else None,
        "decode_tps": round((completion_tokens - 1) / decode_time, 2) if completion_tokens > 1 and decode_time > 0 else None,
    }


def generated_tokens(llama, prompt_tokens: int, max_tokens: int) -> int:
    """Tokens a finished llama-cpp-python completion produced, from its evaluated-token counter.

    llama-cpp-python evaluates each sampled token before sampling the next, except the last one
    when it stops at max_tokens (an end-of-generation token is never counted). So a run that hit
    the limit shows max_tokens - 1 generated tokens in `n_tokens`; one that ended earlier shows
    all of them.
    """
    evaluated = llama.n_tokens - prompt_tokens
    return max_tokens if evaluated >= max_tokens - 1 else evaluated


def open_raw_llama(model_path: str, threads: int):
    from llama_cpp import Llama  # after `import models`: OMP_WAIT_POLICY is already set

    return Llama(model_path=model_path, n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads,
                 n_batch=N_BATCH, verbose=False)


def prompt_token_count(llama) -> int:
    """Prompt tokens of MESSAGES under the model's chat template (one 1-token completion; also a warm-up)."""
    llama.reset()
    out = llama.create_chat_completion(messages=MESSAGES, max_tokens=1, temperature=0.0)
    return out["usage"]["prompt_tokens"]


def measure_raw(llama, prompt_tokens: int, max_tokens: int) -> dict:
    """(a) raw llama-cpp-python, streamed."""
    llama.reset()  # drop the prefix cache so the prompt is processed again
    finish = None
    first = None
    start = time.perf_counter()
    for part in llama.create_chat_completion(messages=MESSAGES, max_tokens=max_tokens, temperature=0.0,
                                             stream=True, seed=0):
        choice = part["choices"][0]
        if first is None and choice["delta"].get("content"):
            first = time.perf_counter()
        finish = choice.get("finish_reason") or finish
    end = time.perf_counter()
    result = rates(prompt_tokens, generated_tokens(llama, prompt_tokens, max_tokens), first - start, end - start)
    result["finish_reason"] = finish
    return result


class ChatState(TypedDict):
    messages: Annotated[list, add_messages]


def build_chat_graph(spec: str):
    """A one-node LangGraph graph whose node calls the framework's chat model."""
    def call_model(state: ChatState) -> dict:
        return {"messages": [load_chat_model(spec).invoke(state["messages"])]}

    builder = StateGraph(ChatState)
    builder.add_node(call_model)
    builder.add_edge(START, "call_model")
    builder.add_edge("call_model", END)
    return builder.compile(name="bench_llm")


def measure_framework(graph, model, prompt_tokens: int, max_tokens: int) -> dict:
    """(b) the framework's chat model in a LangGraph node, streamed with stream_mode="messages"."""
    from langchain_core.messages import HumanMessage, SystemMessage

    model.llama.reset()
    inputs = {"messages": [SystemMessage(SYSTEM_PROMPT), HumanMessage(USER_PROMPT)]}
    first = None
    start = time.perf_counter()
    for chunk, _meta in graph.stream(inputs, stream_mode="messages"):
        if first is None and chunk.content:
            first = time.perf_counter()
    end = time.perf_counter()
    return rates(prompt_tokens, generated_tokens(model.llama, prompt_tokens, max_tokens), first - start, end - start)


class TransformersRunner:
    """(c) transformers generate on the GGUF's weights, dequantized to float32."""

    def __init__(self, gguf_path: Path):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        start = time.perf_counter()
        self.tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        self.model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name,
                                                          dtype=torch.float32)
        self.model.eval()
        self.load_s = time.perf_counter() - start
        if self.tokenizer.chat_template:
            prompt = self.tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
        else:  # SmolLM2's template is ChatML
            prompt = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in MESSAGES)
            prompt += "<|im_start|>assistant\n"
        self.inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        self.prompt_tokens = int(self.inputs["input_ids"].shape[1])

    def measure(self, threads: int, max_tokens: int) -> dict:
        from transformers import StoppingCriteria, StoppingCriteriaList

        torch = self.torch
        stamps: list[float] = []

        class Stamp(StoppingCriteria):
            """Called once after every generated token: records when, never stops."""

            def __call__(self, input_ids, scores, **kwargs):
                stamps.append(time.perf_counter())
                return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

        self.torch.set_num_threads(threads)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        start = time.perf_counter()
        with self.torch.inference_mode():
            out = self.model.generate(**self.inputs, max_new_tokens=max_tokens, do_sample=False, pad_token_id=pad,
                                      stopping_criteria=StoppingCriteriaList([Stamp()]))
        end = time.perf_counter()
        completion = int(out.shape[1] - self.prompt_tokens)
        return rates(self.prompt_tokens, completion, stamps[0] - start, end - start)


class BusyCore:
    """Keeps one core busy with a separate Python process for the duration of a `with` block."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
        time.sleep(0.3)  # let it get scheduled before measuring
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


# The unset-OMP_WAIT_POLICY worker must not import `models` (that would set the variable again).
RAW_WORKER = r"""
import sys, time
from llama_cpp import Llama
path, threads, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
messages = [{"role": "system", "content": sys.argv[4]}, {"role": "user", "content": sys.argv[5]}]
llama = Llama(model_path=path, n_ctx=%d, n_threads=threads, n_threads_batch=threads, n_batch=%d, verbose=False)
print("READY", llama.n_tokens, flush=True)
print("START", time.perf_counter(), flush=True)
for part in llama.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True, seed=0):
    if part["choices"][0]["delta"].get("content"):
        print("TOKEN", time.perf_counter(), flush=True)
print("END", time.perf_counter(), llama.n_tokens, flush=True)
""" % (N_CTX, N_BATCH)


def measure_raw_without_wait_policy(model_path: str, threads: int, prompt_tokens: int, max_tokens: int,
                                    timeout_s: float) -> dict:
    """(a) in a subprocess whose environment lacks OMP_WAIT_POLICY; rates from what arrived in time."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    proc = subprocess.Popen([sys.executable, "-c", RAW_WORKER, model_path, str(threads), str(max_tokens),
                             SYSTEM_PROMPT, USER_PROMPT], env=env, stdout=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line.split()) for line in proc.stdout], daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout_s
    start = end = None
    tokens: list[float] = []
    timed_out = False
    n_tokens_end = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        try:
            fields = lines.get(timeout=min(left, 1.0))
        except queue.Empty:
            if proc.poll() is not None and lines.empty() and not reader.is_alive():
                break
            continue
        if fields[0] == "START":
            start = float(fields[1])
        elif fields[0] == "TOKEN":
            tokens.append(float(fields[1]))
        elif fields[0] == "END":
            end, n_tokens_end = float(fields[1]), int(fields[2])
            break
    now_in_child_clock = None
    if timed_out:
        proc.kill()
        # perf_counter is CLOCK_MONOTONIC on Linux, shared with the child process
        now_in_child_clock = time.perf_counter()
    proc.wait()
    result: dict[str, Any] = {"timed_out": timed_out, "timeout_s": timeout_s, "max_tokens": max_tokens,
                              "streamed_chunks": len(tokens)}
    if start is None or not tokens:
        result.update(prompt_tokens=prompt_tokens, ttft_s=None, prefill_tps=None, decode_tps=None,
                      note="no token arrived before the timeout")
        if start is not None and now_in_child_clock is not None:
            result["prefill_tps_upper_bound"] = round(prompt_tokens / (now_in_child_clock - start), 2)
        return result
    if timed_out:
        # decode rate over the chunks that did arrive (one chunk per token for this plain-ASCII prose)
        result.update(rates(prompt_tokens, len(tokens), tokens[0] - start, tokens[-1] - start))
    else:
        completion = max_tokens if n_tokens_end - prompt_tokens >= max_tokens - 1 else n_tokens_end - prompt_tokens
        result.update(rates(prompt_tokens, completion, tokens[0] - start, end - start))
    return result


def median_of(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def run_throughput(args, model_path: Path) -> dict:
    """Every condition, interleaving (a), (b), (c) per repeat."""
    conditions: list[dict] = []
    transformers_runner = None
    transformers_error = None
    missing = [name for name in ("gguf", "accelerate") if importlib.util.find_spec(name) is None]
    if args.skip_transformers:
        transformers_error = "skipped (--skip-transformers)"
    elif missing:
        transformers_error = (f"transformers' GGUF loader needs {' and '.join(missing)}, not installed in this "
                              f"environment (pip install {' '.join(missing)})")
        log(f"(c) skipped: {transformers_error}")
    else:
        try:
            log("loading transformers model from the GGUF (dequantizing to float32) ...")
            transformers_runner = TransformersRunner(model_path)
            log(f"  loaded in {transformers_runner.load_s:.1f}s, prompt {transformers_runner.prompt_tokens} tokens")
        except Exception as exc:  # noqa: BLE001 - recorded in the report instead of aborting the run
            transformers_error = f"{type(exc).__name__}: {exc}"
            log(f"  transformers skipped: {transformers_error}")

    prompt_tokens = None
    for threads in args.threads:
        spec = f"local?n_threads={threads}&temperature=0&max_tokens={args.tokens}"
        raw = open_raw_llama(str(model_path), threads)
        prompt_tokens = prompt_token_count(raw)
        model = load_chat_model(spec)
        graph = build_chat_graph(spec)
        # warm-up of each path (first calls allocate buffers)
        measure_raw(raw, prompt_tokens, 4)
        _warm_framework(graph, model)
        if transformers_runner is not None:
            transformers_runner.measure(threads, 4)
        for load in args.loads:
            name = f"{threads} thread{'s' if threads > 1 else ''}, {'idle' if load == 'idle' else '1 core busy'}"
            runs: dict[str, list[dict]] = {"a": [], "b": [], "c": []}
            log(f"[{name}] load average before: {os.getloadavg()[0]:.2f}")
            with BusyCore() if load == "busy" else contextlib.nullcontext():
                for rep in range(args.repeats):
                    runs["a"].append(measure_raw(raw, prompt_tokens, args.tokens))
                    log(_line(name, "a", rep, runs["a"][-1]))
                    runs["b"].append(measure_framework(graph, model, prompt_tokens, args.tokens))
                    log(_line(name, "b", rep, runs["b"][-1]))
                    if transformers_runner is not None:
                        runs["c"].append(transformers_runner.measure(threads, args.tokens))
                        log(_line(name, "c", rep, runs["c"][-1]))
            conditions.append({
                "condition": name, "threads": threads, "load": load, "load_average_after": os.getloadavg(),
                "runs": runs,
                "median": {k: {"decode_tps": median_of(v, "decode_tps"), "prefill_tps": median_of(v, "prefill_tps"),
                               "ttft_s": median_of(v, "ttft_s")} for k, v in runs.items() if v},
            })
        del raw

    unset = None
    if not args.skip_unset and not args.quick and 2 in args.threads and "busy" in args.loads:
        log(f"(a) raw with OMP_WAIT_POLICY unset, 2 threads, 1 core busy (subprocess, {UNSET_TIMEOUT_S:.0f}s cap) ...")
        with BusyCore():
            unset = measure_raw_without_wait_policy(str(model_path), 2, prompt_tokens, min(args.tokens, UNSET_MAX_TOKENS),
                                                    UNSET_TIMEOUT_S)
        log(f"  {unset}")
    return {"prompt_tokens": prompt_tokens,
            "transformers_prompt_tokens": transformers_runner.prompt_tokens if transformers_runner else None,
            "transformers_load_s": round(transformers_runner.load_s, 2) if transformers_runner else None,
            "transformers_error": transformers_error, "conditions": conditions, "omp_wait_policy_unset": unset}


def _warm_framework(graph, model) -> None:
    from langchain_core.messages import HumanMessage

    model.llama.reset()
    for _ in graph.stream({"messages": [HumanMessage("Hi")]}, stream_mode="messages"):
        pass


def _line(condition: str, path: str, rep: int, r: dict) -> str:
    return (f"[{condition}] ({path}) run {rep + 1}: prefill {r['prefill_tps']} tok/s, decode {r['decode_tps']} tok/s "
            f"({r['prompt_tokens']} prompt, {r['completion_tokens']} completion, ttft {r['ttft_s']}s)")


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def render_markdown(report: dict) -> str:
    t = report["throughput"]
    args = report["args"]
    lines = [
        "# bench_llm: SmolLM2-135M-Instruct Q4_1 on this machine",
        "",
        f"{report['machine']['cpu_count']} CPUs; prompt {t['prompt_tokens']} tokens, {args['tokens']} decode tokens, "
        f"median of {args['repeats']}; (a) raw llama-cpp-python, (b) framework chat model in a LangGraph node, "
        f"(c) transformers generate on the same weights (float32). Tokens/s; target (b)/(a) ≥ 0.95. "
        f"Load average at start: {report['machine']['load_average_at_start'][0]:.2f} "
        f"(\"idle\" means no load added by this benchmark). Whole run: {report.get('elapsed_s', 0):.0f} s.",
        "",
        "| condition | (a) decode | (b) decode | (c) decode | (b)/(a) | (c)/(a) "
        "| (a) prefill | (b) prefill | (c) prefill | (b)/(a) | (c)/(a) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cond in t["conditions"]:
        m = cond["median"]
        a, b, c = m.get("a", {}), m.get("b", {}), m.get("c", {})
        cells = [cond["condition"]]
        for key in ("decode_tps", "prefill_tps"):
            cells += [_fmt(a.get(key)), _fmt(b.get(key)), _fmt(c.get(key)),
                      _fmt(_ratio(b.get(key), a.get(key)), 2), _fmt(_ratio(c.get(key), a.get(key)), 2)]
        lines.append("| " + " | ".join(cells) + " |")
    unset = t.get("omp_wait_policy_unset")
    if unset:
        decode = _fmt(unset.get("decode_tps"), 2)
        prefill = _fmt(unset.get("prefill_tps"), 1)
        if unset.get("timed_out"):
            decode += f" (cut at {unset['timeout_s']:.0f} s, {unset['streamed_chunks']} tokens)"
        lines.append(f"| 2 threads, 1 core busy, (a) raw, OMP_WAIT_POLICY unset | {decode} | — | — | — | — "
                     f"| {prefill} | — | — | — | — |")
    lines.append("")
    if t.get("transformers_error"):
        lines.append(f"(c) not measured: {t['transformers_error']}")
        lines.append("")
    lines.append("Prefill = prompt tokens / time to first token; decode = (completion − 1) / (total − TTFT). "
                 "`import models` sets OMP_WAIT_POLICY=PASSIVE before llama.cpp loads, so llama.cpp's OpenMP "
                 "threads sleep instead of spinning while they wait; ../shared/MACHINE.md measured decode "
                 "falling below 1 tok/s with 2 threads and one core busy without it.")
    busy2 = next((c for c in t["conditions"] if c["threads"] == 2 and c["load"] == "busy"), None)
    if unset and busy2 and unset.get("decode_tps") and busy2["median"].get("a", {}).get("decode_tps"):
        with_policy = busy2["median"]["a"]
        lines.append(f"In this run, 2 threads with one core busy: decode {unset['decode_tps']:.1f} tok/s with the "
                     f"variable unset vs. {with_policy['decode_tps']:.1f} with PASSIVE "
                     f"(×{unset['decode_tps'] / with_policy['decode_tps']:.2f}), prefill "
                     f"{_fmt(unset.get('prefill_tps'))} vs. {_fmt(with_policy.get('prefill_tps'))} "
                     f"(machine load average {report['machine']['load_average_at_start'][0]:.1f} at start).")
    if report.get("tool_calls"):
        lines += ["", tool_calls.render_markdown(report["tool_calls"]).rstrip()]
    return "\n".join(lines) + "\n"


def machine_info(model_path: Path) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("llama_cpp_python", "torch", "transformers", "gguf", "langgraph", "langchain-core"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    try:
        import gguf  # noqa: F401  (may come from PYTHONPATH rather than an installed distribution)

        versions["gguf_importable"] = True
    except ImportError:
        versions["gguf_importable"] = False
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "model_file": str(model_path),
        "model_bytes": model_path.stat().st_size,
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "load_average_at_start": os.getloadavg(),
        "versions": versions,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evals.bench_llm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/bench_llm", help="output folder (default out/bench_llm)")
    parser.add_argument("--tokens", type=int, default=None, help="decode tokens per measurement (default 96; 32 with --quick)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per measurement, median reported (default 3; 1 with --quick)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    parser.add_argument("--loads", nargs="+", choices=["idle", "busy"], default=["idle", "busy"])
    parser.add_argument("--tool-requests", type=int, default=None, help="how many of the 50 tool requests (default 50; 10 with --quick)")
    parser.add_argument("--tool-modes", nargs="+", choices=list(tool_calls.TOOL_MODES), default=tool_calls.DEFAULT_TOOL_MODES,
                        help=f"tool-call modes (default {' '.join(tool_calls.DEFAULT_TOOL_MODES)})")
    parser.add_argument("--skip-transformers", action="store_true", help="leave out (c)")
    parser.add_argument("--skip-tools", action="store_true", help="leave out the tool-call evaluation")
    parser.add_argument("--skip-unset", action="store_true", help="leave out the OMP_WAIT_POLICY-unset row")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 repeat, 32 tokens, 10 tool requests")
    args = parser.parse_args(argv)
    args.tokens = args.tokens or (32 if args.quick else 96)
    args.repeats = args.repeats or (1 if args.quick else 3)
    if args.tool_requests is None:
        args.tool_requests = 10 if args.quick else len(tool_calls.TOOL_REQUESTS)
    if args.tokens < 2:
        parser.error("--tokens must be at least 2")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model_path = smollm2_gguf_path()
    started = time.perf_counter()
    report: dict[str, Any] = {
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "args": vars(args),
        "machine": machine_info(model_path),
        "prompt": {"system": SYSTEM_PROMPT, "user": USER_PROMPT},
    }
    report["throughput"] = run_throughput(args, model_path)
    if not args.skip_tools:
        report["tool_calls"] = tool_calls.run_tool_calls(tool_calls.pick_requests(args.tool_requests), args.tool_modes)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    markdown = render_markdown(report)
    (out / "bench_llm.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    (out / "bench_llm.md").write_text(markdown, encoding="utf-8")
    log(f"wrote {out / 'bench_llm.json'} and {out / 'bench_llm.md'} in {report['elapsed_s']}s")
    print(markdown)
    return report


if __name__ == "__main__":
    main()
