"""Evaluate any model spec on standard tasks with EleutherAI's lm-evaluation-harness as the engine.

    python -m evals.harness --model local --tasks gsm8k,pubmedqa --limit 20
    python -m evals.harness --model local --backend hf --tasks pubmedqa --limit 50      # lm-eval's direct `hf` backend
    python -m evals.harness --model openai:NAME@http://host:8000/v1 --tasks gsm8k_cot --limit 100
    python -m evals.harness --model local --model hf:runs/my-finetune --tasks all --limit 20
    python -m evals.harness --ui                 # Streamlit page comparing runs (apps/ui/evals_page.py)

Tasks (task configs in evals/tasks/, reading ../shared/data only; `--data-root` moves it):
gsm8k (5-shot, exact match on the final number with lm-eval's strict and flexible answer
extraction), gsm8k_cot (5-shot chain of thought, "The answer is N"), pubmedqa (yes/no/maybe
as multiple choice, log-likelihood accuracy on the authors' 500 test items), geoquery (3-shot
text to SQL on the dev split, execution accuracy, run read-only), bfcl (3-shot BFCL
simple_python and multiple, the call in Python syntax, BFCL's AST check), bias (the bias audit's
counterfactual variants as multiple choice: flip rate and rating spread across variants; lower
is fairer; `--limit` does not apply, the set is small).

Backends, chosen per spec (`--backend auto`):
- `serve`: in-process specs (`local`, `gguf:`, `hf:`) are served by `apps.serve` on a loopback
  port started here, and lm-eval talks to it with its `local-completions` client: generation
  through /v1/completions, multiple choice through its log-probabilities (`logprobs` + `echo`).
- `hf`: lm-eval's own transformers backend on the same weights (the GGUF dequantized by
  transformers for `local`/`gguf:`), the reference the served scores should match.
- `api`: a server spec (`openai:NAME@URL`, `vllm:NAME@URL`, `ollama:NAME@URL`) through
  `local-completions` at URL/completions; `?tokenizer=FOLDER` names a local tokenizer for exact
  context lengths. Add `--chat` for chat-only servers: generation tasks only, since chat
  endpoints return no prompt log-probabilities (lm-eval issues #1662, #3275); with an
  in-process spec, `--chat` serves it and uses /v1/chat/completions with the model's template.

Beside each model row, rows without a model: pubmedqa's majority answer ("yes"), gsm8k's
"last number in the question", geoquery's stored SQL of the most similar train question
(tools.sql.examples, TF-IDF), bfcl's first offered function called without arguments, and bias's
same answer to every variant. Results: out/harness/<run>/results.json, results.md and scores.png,
one line per run appended to out/harness/runs.jsonl (the Streamlit page reads it), and an MLflow
run when MLFLOW_TRACKING_URI is set. Everything stays offline (HF_DATASETS_OFFLINE, HF_HUB_OFFLINE).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import models  # noqa: F401  (offline switches before lm-eval, datasets and transformers load)
from models.settings import shared_data
from models.spec import ModelSpec, ModelSpecError, parse_model_spec

ROOT = Path(__file__).resolve().parents[1]
TASK_DIR = Path(__file__).resolve().parent / "tasks"
TASKS = {"gsm8k": "hearth_gsm8k", "gsm8k_cot": "hearth_gsm8k_cot", "pubmedqa": "hearth_pubmedqa",
         "geoquery": "hearth_geoquery", "bfcl": "hearth_bfcl", "bias": "hearth_bias"}
MULTIPLE_CHOICE = {"pubmedqa", "bias"}
WHOLE_SET_TASKS = {"bias"}
EMBEDDED = ("local", "gguf", "hf")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


class HarnessError(RuntimeError):
    """A run that cannot go ahead; the message names the fix."""


def parse_tasks(text: str) -> list[str]:
    """Task names from a comma-separated list ('all' for every task).

    >>> parse_tasks("gsm8k, pubmedqa")
    ['gsm8k', 'pubmedqa']
    """
    names = list(TASKS) if text.strip() == "all" else [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in TASKS]
    if unknown or not names:
        raise HarnessError(f"Unknown task(s) {unknown or text!r}: choose from {', '.join(TASKS)} or 'all'.")
    return names


def task_manager(data_root: Path):
    """lm-eval's TaskManager over evals/tasks only (no built-in task is indexed or fetched)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASK_DIR), include_defaults=False, metadata={"data_root": str(data_root)})


# --------------------------------------------------------------------------------------------
# model specs -> lm-eval models
# --------------------------------------------------------------------------------------------
def gguf_location(spec: ModelSpec) -> Path:
    if spec.provider == "local":
        from models.bundled import smollm2_gguf_path

        return smollm2_gguf_path()
    path = Path(spec.name).expanduser()
    if not path.is_file():
        raise ModelSpecError(f"GGUF file {str(path)!r} does not exist. Check the path after 'gguf:'.")
    return path


def tokenizer_folder(spec: ModelSpec, cache: Path) -> str:
    """A transformers tokenizer folder for an in-process spec: the hf: folder itself, or the
    GGUF's tokenizer saved once under `cache` (same ids as llama.cpp)."""
    if spec.provider == "hf":
        return str(Path(spec.name).expanduser())
    gguf = gguf_location(spec)
    folder = cache / re.sub(r"[^A-Za-z0-9_.-]", "_", gguf.stem)
    if not (folder / "tokenizer_config.json").is_file():
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(str(folder))
    return str(folder)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(spec: str, port: int | None = None) -> Iterator[str]:
    """apps.serve for `spec` on a loopback port in this process; yields its /v1 base URL."""
    import httpx
    import uvicorn

    from apps.serve import create_app

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(spec, "local"), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="harness-serve", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        server.should_exit = True
        raise HarnessError(f"apps.serve did not answer on port {port} within 60 s.")
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def check_completions(base: str, model_name: str, needs_logprobs: bool) -> None:
    """Fail early, with the fix, when the server lacks what the tasks need."""
    import httpx

    body = {"model": model_name, "prompt": "Hello", "max_tokens": 1, "temperature": 0}
    if needs_logprobs:
        body.update(logprobs=1, echo=True)
    try:
        reply = httpx.post(f"{base}/completions", json=body, timeout=120)
    except httpx.HTTPError as exc:
        raise HarnessError(f"{base}/completions cannot be reached: {exc}") from exc
    if reply.status_code == 404 and "model" not in reply.text:
        raise HarnessError(f"{base} has no /v1/completions endpoint. Update apps.serve (it gains /v1/completions "
                           "with logprobs and echo), or run with --backend hf for in-process specs.")
    if reply.status_code >= 400:
        raise HarnessError(f"{base}/completions answered {reply.status_code}: {reply.text[:300]}")
    if needs_logprobs:
        logprobs = (reply.json().get("choices") or [{}])[0].get("logprobs") or {}
        if not logprobs.get("token_logprobs"):
            raise HarnessError(f"{base}/completions returned no token_logprobs with echo=true: multiple-choice tasks "
                               "(pubmedqa) need a server that scores the prompt (vLLM, llama.cpp server, apps.serve).")


def completions_model(base: str, model_name: str, tokenizer: str | None, max_length: int):
    """lm-eval's `local-completions` client for an OpenAI-style /v1 base URL."""
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    args = dict(base_url=f"{base}/completions", model=model_name, max_length=max_length, max_retries=1,
                num_concurrent=1, batch_size=1, timeout=600, max_gen_toks=256)
    if tokenizer:
        args.update(tokenizer_backend="huggingface", tokenizer=tokenizer, tokenized_requests=True)
    else:
        args.update(tokenizer_backend=None, tokenized_requests=False)
    return LocalCompletionsAPI(**args)


def chat_model(base: str, model_name: str):
    from lm_eval.models.openai_completions import LocalChatCompletion

    return LocalChatCompletion(base_url=f"{base}/chat/completions", model=model_name, max_retries=1,
                               timeout=600, max_gen_toks=256)


def hf_model(spec: ModelSpec, threads: int, max_length: int):
    """lm-eval's own transformers backend on the spec's weights (GGUF dequantized to float32)."""
    import torch
    from lm_eval.models.huggingface import HFLM

    torch.set_num_threads(threads)
    if spec.provider == "hf":
        folder = str(Path(spec.name).expanduser())
        return HFLM(pretrained=folder, device="cpu", dtype="float32", batch_size=1, max_length=max_length)
    gguf = gguf_location(spec)
    return HFLM(pretrained=str(gguf.parent), gguf_file=gguf.name, device="cpu",
                dtype="float32", batch_size=1, max_length=max_length)


def backend_for(spec: ModelSpec, requested: str) -> str:
    if requested != "auto":
        if requested in ("serve", "hf") and spec.provider not in EMBEDDED:
            raise HarnessError(f"--backend {requested} needs an in-process spec (local, gguf:, hf:), not "
                               f"{spec.provider}:. Use --backend api for a server.")
        if requested == "api" and spec.provider in EMBEDDED:
            raise HarnessError("--backend api needs a server spec (openai:NAME@URL, vllm:NAME@URL, ollama:NAME@URL).")
        return requested
    return "serve" if spec.provider in EMBEDDED else "api"


@contextmanager
def lm_for(spec_text: str, backend: str, tasks: list[str], *, chat: bool, cache: Path, threads: int,
           max_length: int):
    """The lm-eval model object for a spec, and whatever it needs running while it is used."""
    spec = parse_model_spec(spec_text)
    backend = backend_for(spec, backend)
    needs_logprobs = any(t in MULTIPLE_CHOICE for t in tasks)
    if chat and needs_logprobs:
        raise HarnessError("--chat cannot score multiple-choice tasks (chat endpoints return no prompt "
                           f"log-probabilities); drop {sorted(set(tasks) & MULTIPLE_CHOICE)} or --chat.")
    if backend == "hf":
        yield hf_model(spec, threads, max_length), backend
        return
    if backend == "serve" and chat:
        with served(spec_text) as base:
            yield chat_model(base, spec_text), "serve-chat"
        return
    if backend == "serve":
        tokenizer = tokenizer_folder(spec, cache)
        with served(spec_text) as base:
            check_completions(base, spec_text, needs_logprobs)
            yield completions_model(base, spec_text, tokenizer, max_length), backend
        return
    url = spec.url or ("http://127.0.0.1:11434" if spec.provider == "ollama" else None)
    base = url.rstrip("/")
    if spec.provider == "ollama" and not base.endswith("/v1"):
        base += "/v1"
    if chat:
        yield chat_model(base, spec.name), "api-chat"
        return
    check_completions(base, spec.name, needs_logprobs)
    yield completions_model(base, spec.name, spec.options.get("tokenizer"), max_length), backend


# --------------------------------------------------------------------------------------------
# running and reporting
# --------------------------------------------------------------------------------------------
def evaluate(lm, tasks: list[str], *, data_root: Path, limit: int | None, chat: bool = False,
             num_fewshot: int | None = None) -> dict:
    """lm-eval's simple_evaluate over our task configs; {task: {metric: value}} plus n. Tasks whose
    metrics compare whole items (WHOLE_SET_TASKS) run without `limit`: a cut set would split an item."""
    from lm_eval import simple_evaluate

    out = {}
    for group, group_limit in (([t for t in tasks if t not in WHOLE_SET_TASKS], limit),
                               ([t for t in tasks if t in WHOLE_SET_TASKS], None)):
        if not group:
            continue
        results = simple_evaluate(model=lm, tasks=[TASKS[t] for t in group], task_manager=task_manager(data_root),
                                  limit=group_limit, num_fewshot=num_fewshot, apply_chat_template=chat,
                                  bootstrap_iters=200, log_samples=False, random_seed=0, numpy_random_seed=0,
                                  torch_random_seed=0, fewshot_random_seed=0)
        out.update(summarize(results, group))
    return {t: out[t] for t in tasks}


def summarize(results: dict, tasks: list[str]) -> dict:
    """The metrics that matter per task from lm-eval's result dict."""
    out = {}
    for task in tasks:
        raw = results["results"][TASKS[task]]
        metrics = {}
        for key, value in raw.items():
            if not isinstance(value, (int, float)) or "," not in key or key.startswith("alias"):
                continue
            metric, filt = key.split(",", 1)
            name = metric if filt == "none" else f"{metric} ({filt})"
            metrics[name] = float(value)
        n = results.get("n-samples", {}).get(TASKS[task], {}).get("effective")
        out[task] = {"metrics": metrics, "n": n}
    return out


def headline(task: str, metrics: dict) -> tuple[str, float | None]:
    """The one number per task for charts: strict exact match for gsm8k, accuracy for pubmedqa."""
    for key in ("exact_match (strict-match)", "acc", "exec_acc", "ast_acc", "flip_rate",
                "exact_match (flexible-extract)"):
        if key in metrics:
            return key, metrics[key]
    return "", None


def no_model_rows(tasks: list[str], data_root: Path, limit: int | None) -> dict:
    """Rows without a model, on the same documents: pubmedqa's majority answer ('yes'),
    gsm8k's last number of the question, geoquery's stored SQL of the most similar train question,
    bfcl's first offered function called without arguments, bias's same answer to every variant."""
    sys.path.insert(0, str(TASK_DIR))
    try:
        import utils as task_utils  # evals/tasks/utils.py, as lm-eval loads it
    finally:
        sys.path.pop(0)
    rows = {}
    for task in tasks:
        if task == "pubmedqa":
            docs = list(task_utils.load_pubmedqa(str(data_root))["test"])[:limit]
            acc = sum(d["final_decision"] == "yes" for d in docs) / len(docs)
            rows[task] = {"metrics": {"acc": acc}, "n": len(docs), "system": "majority answer 'yes' (no model)"}
        elif task == "geoquery":
            from tools.sql.examples import ExampleStore   # the text-to-SQL graph's stored-example retrieval

            data = task_utils.load_geoquery(str(data_root))
            store = ExampleStore(similarity="tfidf")
            store.extend((d["question"], d["query"]) for d in data["train"])
            docs = list(data["dev"])[:limit]
            hits = 0
            for d in docs:
                (example, _), = store.get_similar_question_sql(d["question"], k=1)
                hits += task_utils.sql_rows_match(example.sql, d)
            rows[task] = {"metrics": {"exec_acc": hits / len(docs)}, "n": len(docs),
                          "system": "SQL of the most similar train question (no model)"}
        elif task == "bias":
            docs = list(task_utils.load_bias(str(data_root))["test"])
            rows[task] = {"metrics": {"flip_rate": 0.0, "rating_spread": 0.0}, "n": len(docs),
                          "system": "the same answer to every variant (no model)"}
        elif task == "bfcl":
            docs = list(task_utils.load_bfcl(str(data_root))["test"])[:limit]
            hits = 0
            for d in docs:
                first = json.loads(d["functions"])[0]["name"]
                hits += task_utils.process_bfcl(d, [f"{first}()"])["ast_acc"]
            rows[task] = {"metrics": {"ast_acc": hits / len(docs)}, "n": len(docs),
                          "system": "first offered function, no arguments (no model)"}
        else:
            docs = list(task_utils.load_gsm8k(str(data_root))["test"])[:limit]
            hits = 0
            for d in docs:
                numbers = re.findall(r"-?\d[\d,]*\.?\d*", d["question"])
                guess = numbers[-1].replace(",", "").rstrip(".") if numbers else ""
                hits += guess == d["number"]
            rows[task] = {"metrics": {"exact_match (strict-match)": hits / len(docs)}, "n": len(docs),
                          "system": "last number in the question (no model)"}
    return rows


def markdown(run: dict) -> str:
    tasks = run["tasks"]
    lines = [f"Limit: {run['limit'] or 'all'} documents per task; data: {run['data_root']}; "
             f"{run['seconds']:.0f} s in all (2-core machine, shared).", "",
             "| system | backend | " + " | ".join(tasks) + " | seconds |", "|---|---|" + "---:|" * len(tasks) + "---:|"]
    for row in run["rows"]:
        cells = []
        for task in tasks:
            scores = row["scores"].get(task)
            if not scores:
                cells.append("-")
                continue
            name, value = headline(task, scores["metrics"])
            cells.append("-" if value is None else f"{value:.3f}")
        lines.append(f"| {row['system']} | {row['backend']} | " + " | ".join(cells) + f" | {row['seconds']:.0f} |")
    lines += ["", "Headline metric: gsm8k / gsm8k_cot exact match with strict extraction, pubmedqa accuracy, "
                  "geoquery execution accuracy, bfcl AST accuracy, bias flip rate (lower is fairer).",
              "All metrics:", ""]
    for row in run["rows"]:
        for task, scores in row["scores"].items():
            pretty = ", ".join(f"{k} {v:.3f}" for k, v in sorted(scores["metrics"].items()) if "stderr" not in k)
            lines.append(f"- {row['system']} / {task} (n={scores['n']}): {pretty}")
    return "\n".join(lines)


def bar_chart(run: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tasks, rows = run["tasks"], run["rows"]
    width = 0.8 / max(1, len(rows))
    fig, ax = plt.subplots(figsize=(2.2 + 1.6 * len(tasks), 3.6))
    for i, row in enumerate(rows):
        values = [headline(t, row["scores"][t]["metrics"])[1] or 0.0 if t in row["scores"] else 0.0 for t in tasks]
        label = row["system"] if row["backend"] == "none" else f"{row['system']} [{row['backend']}]"
        ax.bar(np.arange(len(tasks)) + i * width, values, width, label=label)
    ax.set_xticks(np.arange(len(tasks)) + width * (len(rows) - 1) / 2, tasks)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.set_title(f"lm-eval on local data (limit {run['limit'] or 'all'})")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def log_mlflow(run: dict, folder: Path) -> bool:
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return False
    import mlflow

    mlflow.set_experiment("hearth-harness")
    for row in run["rows"]:
        with mlflow.start_run(run_name=f"{row['system']} {run['name']}"):
            mlflow.log_params({"system": row["system"], "backend": row["backend"], "limit": run["limit"] or "all",
                               "tasks": ",".join(run["tasks"])})
            for task, scores in row["scores"].items():
                for key, value in scores["metrics"].items():
                    mlflow.log_metric(re.sub(r"[^A-Za-z0-9_./-]", "_", f"{task}.{key}"), value)
            mlflow.log_artifacts(str(folder))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.harness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="model spec (repeatable)")
    parser.add_argument("--tasks", default="gsm8k,pubmedqa", help=f"comma-separated: {', '.join(TASKS)}, or all")
    parser.add_argument("--limit", type=int, help="first N test documents per task")
    parser.add_argument("--backend", choices=["auto", "serve", "hf", "api"], default="auto")
    parser.add_argument("--chat", action="store_true", help="chat endpoint with the chat template (generation only)")
    parser.add_argument("--num-fewshot", type=int, help="override the tasks' few-shot count")
    parser.add_argument("--data-root", type=Path, default=shared_data(),
                        help="folder holding gsm8k/, pubmedqa_pqal/, geoquery/, bfcl/")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for --backend hf")
    parser.add_argument("--max-length", type=int, default=2048, help="context length lm-eval assumes")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "harness")
    parser.add_argument("--name", help="run name (default: time stamp)")
    parser.add_argument("--ui", action="store_true", help="start the Streamlit page comparing runs")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HEARTH_PORT", 8501)))
    args = parser.parse_args(argv)
    if args.ui:
        from apps.chat import streamlit_command

        os.environ["HEARTH_EVALS_OUT"] = str(args.out.parent)
        print(f"Starting the evaluation page on http://127.0.0.1:{args.port} (Ctrl+C to stop)", flush=True)
        os.execv(sys.executable, streamlit_command(ROOT / "apps" / "ui" / "evals_page.py", args.port, "127.0.0.1"))
    if not args.model:
        parser.error("--model SPEC is required (e.g. --model local), or --ui for the page.")

    try:
        tasks = parse_tasks(args.tasks)
        if not args.data_root.is_dir():
            raise HarnessError(f"--data-root {args.data_root} does not exist; point it at ../shared/data.")
        started = time.perf_counter()
        name = args.name or time.strftime("%Y%m%d-%H%M%S")
        folder = args.out / name
        rows = []
        for system, scores in _group(no_model_rows(tasks, args.data_root, args.limit)).items():
            rows.append({"system": system, "backend": "none", "scores": scores, "seconds": 0.0})
        for spec in args.model:
            t0 = time.perf_counter()
            with lm_for(spec, args.backend, tasks, chat=args.chat, cache=args.out / "tokenizers",
                        threads=args.threads, max_length=args.max_length) as (lm, backend):
                scores = evaluate(lm, tasks, data_root=args.data_root, limit=args.limit, chat=args.chat,
                                  num_fewshot=args.num_fewshot)
            rows.append({"system": spec, "backend": backend, "scores": scores, "seconds": time.perf_counter() - t0})
    except (HarnessError, ModelSpecError, FileNotFoundError) as exc:
        print(f"evals.harness: {exc}", file=sys.stderr)
        return 2
    run = {"name": name, "tasks": tasks, "limit": args.limit, "data_root": str(args.data_root), "rows": rows,
           "seconds": time.perf_counter() - started, "engine": _engine_version()}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(run, indent=2))
    table = markdown(run)
    (folder / "results.md").write_text(f"# lm-eval run {name}\n\n{table}\n")
    bar_chart(run, folder / "scores.png")
    with open(args.out / "runs.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({**run, "folder": str(folder)}) + "\n")
    logged = log_mlflow(run, folder)
    print(table)
    print(f"\nWrote {folder}/results.json, results.md, scores.png" + (" and an MLflow run" if logged else ""))
    return 0


def _group(rows: dict) -> dict[str, dict]:
    grouped: dict[str, dict] = {}
    for task, row in rows.items():
        grouped.setdefault(row["system"], {})[task] = {"metrics": row["metrics"], "n": row["n"]}
    return grouped


def _engine_version() -> str:
    from importlib.metadata import version

    return f"lm-eval {version('lm_eval')}"


if __name__ == "__main__":
    raise SystemExit(main())
