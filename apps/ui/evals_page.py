"""Streamlit page: evaluation runs side by side (models x tasks), with their charts.
Start it with `python -m evals.harness --ui` (reads out/harness/runs.jsonl and the other eval
outputs under out/: code_eval, judge, bias_audit)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the project root (see apps/ui/__init__.py)

import models  # noqa: E402,F401  (offline switches first)
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

OUT = Path(os.environ.get("HEARTH_EVALS_OUT", ROOT / "out"))
HEADLINE = ("exact_match (strict-match)", "acc", "exact_match (flexible-extract)")


def load_runs(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return runs


def headline(metrics: dict) -> float | None:
    return next((metrics[k] for k in HEADLINE if k in metrics), None)


def runs_table(runs: list[dict]) -> pd.DataFrame:
    records = []
    for run in runs:
        for row in run["rows"]:
            for task, scores in row["scores"].items():
                records.append({"run": run["name"], "system": row["system"], "backend": row["backend"], "task": task,
                                "score": headline(scores["metrics"]), "n": scores.get("n"), "limit": run.get("limit")})
    return pd.DataFrame(records)


st.set_page_config(page_title="Evaluation runs", layout="wide")
st.title("Evaluation runs")
st.caption(f"lm-eval runs from {OUT / 'harness' / 'runs.jsonl'}; code, judge and bias results from {OUT}. "
           "Headline: exact match (strict extraction) for gsm8k, accuracy for pubmedqa.")

runs = load_runs(OUT / "harness" / "runs.jsonl")
if not runs:
    st.info("No harness runs yet. Run `python -m evals.harness --model local --tasks gsm8k,pubmedqa --limit 20`.")
else:
    names = [r["name"] for r in runs]
    chosen = st.multiselect("Runs", names, default=names[-3:])
    table = runs_table([r for r in runs if r["name"] in chosen])
    if table.empty:
        st.info("Pick at least one run.")
    else:
        table["model"] = table["system"] + " [" + table["backend"] + "] · " + table["run"]
        pivot = table.pivot_table(index="model", columns="task", values="score", aggfunc="first")
        st.subheader("Models × tasks")
        st.dataframe(pivot.style.format("{:.3f}", na_rep="-"), width="stretch")
        st.bar_chart(pivot.T, height=320)
        with st.expander("Every metric"):
            for run in runs:
                if run["name"] in chosen:
                    st.markdown(f"**{run['name']}** (limit {run.get('limit') or 'all'}, {run.get('engine', '')})")
                    for row in run["rows"]:
                        for task, scores in row["scores"].items():
                            st.write(row["system"], task, scores)
        for run in runs:
            image = Path(run.get("folder", "")) / "scores.png"
            if run["name"] in chosen and image.is_file():
                st.image(str(image), caption=run["name"])

code = OUT / "code_eval" / "scores.json"
if code.is_file():
    st.subheader("Code generation (sandboxed, pass@k)")
    data = json.loads(code.read_text())
    st.dataframe(pd.DataFrame([{k: v for k, v in r.items() if k.startswith("pass@") or k in ("system", "seconds")}
                               for r in data["rows"]]), width="stretch")
attacks = OUT / "code_eval" / "attacks.md"
if attacks.is_file():
    with st.expander("Sandbox attack list"):
        st.markdown(attacks.read_text())
judge = OUT / "judge" / "agreement.md"
if judge.is_file():
    st.subheader("LLM-as-judge agreement with human preferences")
    st.markdown(judge.read_text().split("\n", 2)[-1])
bias = OUT / "bias_audit" / "bias_audit.md"
if bias.is_file():
    st.subheader("Bias audit")
    st.markdown(bias.read_text().split("\n", 2)[-1])
