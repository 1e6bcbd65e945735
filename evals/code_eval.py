"""Code generation, scored by running the code: HumanEval-format problems in the sandbox.

    python -m evals.code_eval --attacks                       # the hostile-generation list, contained?
    python -m evals.code_eval --model local --n 1             # pass@1, greedy
    python -m evals.code_eval --model local --n 5 --k 1,5 --temperature 0.8 --limit 10
    python -m evals.code_eval --problems path/to/HumanEval.jsonl --model openai:NAME@http://host:8000/v1

A problem is a JSON line with `task_id`, `prompt` (signature and docstring), `entry_point` and
`test` (a `check(candidate)` function), as in OpenAI's HumanEval; `canonical_solution` is
optional. The program run is prompt + completion + test + `check(entry_point)`, in
`tools.sandbox` (separate process, limits, no network, throwaway folder; see there). The 24
problems in evals/data/code_problems.jsonl were written for this project.

pass@k uses the unbiased estimator of Chen et al. (2021, "Evaluating Large Language Models
Trained on Code"): with n samples of which c pass, pass@k = 1 - C(n-c, k) / C(n, k), averaged
over problems. Rows without the model sit beside the model's: the canonical solutions (the
tests are right) and an empty body (what passes by itself).

Writes JSON + markdown under out/code_eval/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "evals" / "data" / "code_problems.jsonl"
ATTACKS = ROOT / "evals" / "data" / "sandbox_attacks.jsonl"
SYSTEM_PROMPT = ("Complete the Python function. Reply with the complete function in one ```python block, "
                 "nothing else.")
REQUIRED = ("task_id", "prompt", "entry_point", "test")
LIMIT_OUTCOMES = {"timeout", "memory", "file_limit"}


# --------------------------------------------------------------------------------------------
# problems and programs
# --------------------------------------------------------------------------------------------
def load_problems(path: Path = PROBLEMS, limit: int | None = None) -> list[dict]:
    """HumanEval-format problems from a JSON-lines file; a line missing a field is named."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No problems file at {path}. Pass --problems PATH (HumanEval JSON lines).")
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        missing = [key for key in REQUIRED if key not in item]
        if missing:
            raise ValueError(f"{path}:{number} lacks {missing}; each line needs {list(REQUIRED)}.")
        problems.append(item)
    return problems[:limit] if limit else problems


def program_for(problem: dict, completion: str) -> str:
    """The program the sandbox runs: the problem's prompt, the completion, its tests, the check.

    A completion that restates the whole function (`def entry_point(`) replaces the prompt.
    """
    header = completion if re.search(rf"^def\s+{re.escape(problem['entry_point'])}\s*\(", completion, re.M) \
        else problem["prompt"] + completion
    return f"{header}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"


def extract_code(reply: str) -> str:
    """The code in a chat reply: the first fenced block if there is one, else the reply.

    >>> extract_code("Here:\\n```python\\ndef f():\\n    return 1\\n```\\nDone.")
    'def f():\\n    return 1\\n'
    """
    match = re.search(r"```(?:python|py)?\s*\n(.*?)(?:```|$)", reply, re.S)
    return match.group(1) if match else reply


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem: n samples, c of them correct (Chen et al. 2021).

    >>> [round(pass_at_k(5, c, k), 3) for c, k in ((0, 1), (5, 1), (1, 1), (1, 2))]
    [0.0, 1.0, 0.2, 0.4]
    """
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem (got n={n}); raise --n.")
    if n - c < k:
        return 1.0
    # 1 - C(n-c, k) / C(n, k) as a product, which stays exact for large n
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def score_samples(problems: list[dict], samples: dict[str, list[str]], ks: list[int], *, timeout: float = 10.0,
                  progress: bool = False) -> dict:
    """Run every sample of every problem in the sandbox; pass@k per k, and each run's outcome."""
    from tools.sandbox import run_python

    per_problem, counts = [], {}
    items = [(p, s) for p in problems for s in samples[p["task_id"]]]
    bar = _progress(len(items), "sandbox runs") if progress else None
    for problem in problems:
        outcomes = []
        for completion in samples[problem["task_id"]]:
            result = run_python(program_for(problem, completion), timeout=timeout)
            outcomes.append(result.status)
            counts[result.status] = counts.get(result.status, 0) + 1
            if bar:
                bar.update(1)
        n, c = len(outcomes), outcomes.count("passed")
        per_problem.append({"task_id": problem["task_id"], "n": n, "correct": c, "outcomes": outcomes})
    if bar:
        bar.close()
    scores = {f"pass@{k}": float(np.mean([pass_at_k(r["n"], r["correct"], k) for r in per_problem])) for k in ks}
    return {**scores, "outcomes": counts, "problems": per_problem}


# --------------------------------------------------------------------------------------------
# generation
# --------------------------------------------------------------------------------------------
def generate_samples(problems: list[dict], spec: str, n: int, temperature: float, max_tokens: int = 384,
                     progress: bool = True) -> dict[str, list[str]]:
    """n completions per problem from a model spec. Each sample uses its own seed (in-process
    models are otherwise deterministic per seed); n=1 decodes greedily unless told otherwise."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from models import load_chat_model, parse_model_spec

    base = parse_model_spec(spec)
    samples: dict[str, list[str]] = {p["task_id"]: [] for p in problems}
    bar = _progress(len(problems) * n, f"generating ({spec})") if progress else None
    for i in range(n):
        options = {**base.options, "seed": str(i), "temperature": str(temperature), "max_tokens": str(max_tokens)}
        model = load_chat_model(type(base)(base.provider, base.name, base.url, options))
        for problem in problems:
            reply = model.invoke([SystemMessage(content=SYSTEM_PROMPT), HumanMessage(content=problem["prompt"])])
            samples[problem["task_id"]].append(extract_code(str(reply.content)))
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    return samples


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False)


# --------------------------------------------------------------------------------------------
# the hostile-generation list
# --------------------------------------------------------------------------------------------
def load_attacks(path: Path = ATTACKS) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def snapshot(folder: Path) -> dict[str, str]:
    """Every path under folder with a digest of its content and mode (folders too)."""
    folder = Path(folder)
    state = {".": oct(folder.stat().st_mode)} if folder.exists() else {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        state[str(path.relative_to(folder))] = f"{digest}:{oct(info.st_mode)}"
    return state


def run_attacks(attacks: list[dict], outside: Path, *, timeout: float = 3.0, memory_mb: int = 512,
                file_mb: int = 8, audit_hook: bool = True) -> list[dict]:
    """Run each hostile program with `{outside}` pointing at a folder outside the sandbox and
    `{port}` at a loopback listener; a row per attack says whether it was contained: the
    expected outcome, the outside folder unchanged, and nothing reached the listener.

    With `audit_hook=False` only the operating-system layers fence the code (to show what they
    hold alone); containment then means: nothing outside changed and nothing reached the
    listener, whatever the outcome."""
    from tools.sandbox import run_python

    outside = Path(outside)
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "canary.txt").write_text("the sandbox must not touch this\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.05)
    rows = []
    try:
        for attack in attacks:
            before = snapshot(outside)
            code = attack["code"].replace("{outside}", str(outside)).replace("{port}", str(listener.getsockname()[1]))
            result = run_python(code, timeout=timeout, memory_mb=memory_mb, file_mb=file_mb, audit_hook=audit_hook)
            try:
                conn, _ = listener.accept()
                conn.close()
                reached = True
            except OSError:
                reached = False
            changed = sorted(set(before.items()) ^ set(snapshot(outside).items()))
            # a resource attack stopped by another limit than the one expected (a loaded machine
            # can reach the CPU limit before the memory limit) is still stopped
            as_expected = result.status == attack["expect"] or {result.status, attack["expect"]} <= LIMIT_OUTCOMES
            contained = (as_expected or not audit_hook) and not changed and not reached
            rows.append({"name": attack["name"], "what": attack["what"], "expect": attack["expect"],
                         "status": result.status,
                         "blocked": "; ".join(b["what"] + (f" {b['detail']}" if b["what"] == "import" else "")
                                              for b in result.blocked),
                         "outside_changed": [c[0] for c in changed], "reached_listener": reached,
                         "contained": contained, "seconds": round(result.seconds, 2), "layers": result.layers})
    finally:
        listener.close()
    return rows


# --------------------------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------------------------
def attacks_markdown(rows: list[dict], os_only: list[dict] | None = None) -> str:
    """One row per attack; with `os_only` (the same list run without the audit hook) two more
    columns say what the operating-system layers did alone."""
    extra = " outcome, OS layers alone | contained, OS layers alone |" if os_only else ""
    lines = ["| attack | what | outcome | stopped by | outside changed | contained |" + extra,
             "|---|---|---|---|---|---|" + ("---|---|" if os_only else "")]
    alone = {r["name"]: r for r in os_only or []}
    for r in rows:
        line = (f"| {r['name']} | {r['what']} | {r['status']} | {r['blocked'] or '-'} | "
                f"{', '.join(r['outside_changed']) or 'no'} | {'yes' if r['contained'] else '**NO**'} |")
        if os_only:
            o = alone.get(r["name"], {})
            line += f" {o.get('status', '-')} | {'yes' if o.get('contained') else '**NO**'} |"
        lines.append(line)
    escaped = sum(not r["contained"] for r in rows)
    layers = rows[0]["layers"] if rows else {}
    lines.append(f"\n{len(rows) - escaped} of {len(rows)} contained, {escaped} escaped. Layers in force: "
                 + ", ".join(k for k, v in layers.items() if v) + "; not available here: "
                 + (", ".join(k for k, v in layers.items() if not v) or "none") + ".")
    return "\n".join(lines)


def scores_markdown(rows: list[dict], ks: list[int]) -> str:
    head = "| system | " + " | ".join(f"pass@{k}" for k in ks) + " | outcomes | seconds |"
    lines = [head, "|---" * (len(ks) + 3) + "|"]
    for r in rows:
        cells = " | ".join(f"{r[f'pass@{k}']:.3f}" if f"pass@{k}" in r else "-" for k in ks)
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
        lines.append(f"| {r['system']} | {cells} | {outcomes} | {r['seconds']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.code_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model spec to generate code (e.g. local); none: only the reference rows")
    parser.add_argument("--problems", type=Path, default=PROBLEMS, help="HumanEval-format JSON lines")
    parser.add_argument("--limit", type=int, help="first N problems")
    parser.add_argument("--n", type=int, default=1, help="samples per problem")
    parser.add_argument("--k", default="1", help="comma-separated k for pass@k (each <= n)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (default 0 for n=1, else 0.8)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per program")
    parser.add_argument("--attacks", action="store_true", help="run the hostile-generation list instead")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "code_eval")
    args = parser.parse_args(argv)
    import models  # noqa: F401  (offline switches)

    args.out.mkdir(parents=True, exist_ok=True)
    if args.attacks:
        with tempfile.TemporaryDirectory(prefix="hearth-outside-") as outside:
            rows = run_attacks(load_attacks(), Path(outside) / "hook")
            os_only = run_attacks(load_attacks(), Path(outside) / "os", audit_hook=False)
        table = attacks_markdown(rows, os_only)
        (args.out / "attacks.json").write_text(json.dumps({"with_audit_hook": rows, "os_layers_alone": os_only},
                                                          indent=2))
        (args.out / "attacks.md").write_text("# Sandbox attack list\n\n" + table + "\n")
        print(table)
        return 0 if all(r["contained"] for r in rows) else 1

    ks = sorted({int(k) for k in args.k.split(",")})
    if max(ks) > args.n:
        parser.error(f"--k {args.k} needs --n >= {max(ks)} samples per problem.")
    problems = load_problems(args.problems, args.limit)
    rows = []
    references = {"canonical solutions (no model)": {p["task_id"]: [p.get("canonical_solution", "")] for p in problems},
                  "empty body (no model)": {p["task_id"]: ["    pass\n"] for p in problems}}
    for name, samples in references.items():
        if name.startswith("canonical") and not all(p.get("canonical_solution") for p in problems):
            continue
        started = time.perf_counter()
        scored = score_samples(problems, samples, [1], timeout=args.timeout)
        rows.append({"system": name, **scored, "seconds": time.perf_counter() - started})
    if args.model:
        temperature = args.temperature if args.temperature is not None else (0.0 if args.n == 1 else 0.8)
        started = time.perf_counter()
        samples = generate_samples(problems, args.model, args.n, temperature)
        scored = score_samples(problems, samples, ks, timeout=args.timeout, progress=True)
        rows.append({"system": f"{args.model} (n={args.n}, T={temperature})", **scored,
                     "seconds": time.perf_counter() - started, "samples": samples})
    table = scores_markdown(rows, ks)
    (args.out / "scores.json").write_text(json.dumps({"problems": str(args.problems), "count": len(problems),
                                                      "rows": rows}, indent=2))
    (args.out / "scores.md").write_text(f"# Code generation ({len(problems)} problems, {args.problems.name})\n\n"
                                        + table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
