"""Streamlit page: fine-tuning runs with their loss curves, the quantization table, and the
model registry with a promote button. Start it with `python -m apps.lifecycle`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root (see apps/ui/__init__.py)

import models  # noqa: E402,F401  (offline switches first)
import streamlit as st  # noqa: E402

from models.settings import PROJECT_ROOT  # noqa: E402
from training.sft import runs_folder  # noqa: E402

st.set_page_config(page_title="Fine-tuning lifecycle", layout="wide")
st.title("Fine-tuning lifecycle")
st.caption("Runs of `python -m training.sft` and `training.dpo`, their exports, the reward models, the quantization "
           "table and the MLflow model registry.")

st.header("Runs")
runs = sorted((p for p in runs_folder().glob("*") if (p / "run.json").is_file()), key=lambda p: p.stat().st_mtime,
              reverse=True)
if not runs:
    st.info(f"No runs under {runs_folder()} yet: `python -m training.sft --data ... --name sql`.")
for run in runs:
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    metrics = info.get("metrics", {})
    with st.expander(f"{run.name} ({info.get('state')}), {metrics.get('steps', '?')} steps, "
                     f"train loss {metrics.get('train_loss', '?')}", expanded=run == runs[0]):
        left, right = st.columns([2, 3])
        if (run / "loss.png").is_file():
            left.image(str(run / "loss.png"))
        right.json({"data": info["settings"].get("data"), "dataset_sha256": info.get("dataset_sha256"),
                    "method": info["settings"].get("method"), "metrics": metrics, "mlflow_run_id": info.get("mlflow_run_id")})
        export = run / "export" / "export.json"
        if export.is_file():
            right.subheader("Export")
            right.table([{"level": k, **{f: v.get(f) for f in ("size_mb", "agreement", "loses_finetune")}}
                         for k, v in json.loads(export.read_text(encoding="utf-8"))["levels"].items()])

st.header("Reward models")
from training.reward_model import reward_home  # noqa: E402

reward_runs = sorted((p for p in reward_home().glob("*") if (p / "run.json").is_file()), key=lambda p: p.stat().st_mtime,
                     reverse=True)
if not reward_runs:
    st.info("No reward model yet: `python -m training.reward_model --method probe --max-length 128`; DPO runs "
            "(`python -m training.dpo --reward-model RUN`) appear under Runs with their win rate.")
for run in reward_runs:
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    table = info.get("test", {}).get("table")
    if not table:
        st.caption(f"{run.name}: {info.get('state')}")
        continue
    with st.expander(f"{run.name}: test accuracy {table[0]['accuracy']} on {table[0]['pairs']} held-out pairs",
                     expanded=run == reward_runs[0]):
        st.table([{k: row[k] for k in ("method", "accuracy", "ci95_low", "ci95_high", "correct", "pairs")} for row in table])
        tests = info["test"]
        st.caption(f"Exact McNemar vs length p = {tests['mcnemar_vs_length']['p']:.3g}, vs log-likelihood "
                   f"p = {tests['mcnemar_vs_loglik']['p']:.3g}. Judge with `python -m evals.judge --judge reward:{run}`.")

st.header("Quantization table")
tables = sorted((PROJECT_ROOT / "out" / "quantization").glob("*.md"))
for table in tables:
    st.markdown(table.read_text(encoding="utf-8"))
if not tables:
    st.info("No table yet: `python -m evals.quantization --run RUN --with-base`.")

st.header("Registered models")
try:
    from training.registry import list_models, promote

    versions = list_models()
except Exception as exc:  # noqa: BLE001 - the page still shows runs without a registry
    versions = []
    st.warning(f"The MLflow registry could not be read: {exc}")
if versions:
    st.table([{k: v[k] for k in ("name", "version", "aliases", "level", "gguf")} for v in versions])
    with st.form("promote"):
        choice = st.selectbox("Version", [f"{v['name']} v{v['version']}" for v in versions])
        alias = st.text_input("Alias", "production")
        if st.form_submit_button("Promote"):
            name, _, version = choice.rpartition(" v")
            promote(name, version, alias)
            st.success(f"registry:{name}@{alias} now serves version {version}.")
elif not versions:
    st.info("Nothing registered yet: `python -m training.registry register RUN --name hearth-sql --alias production`.")
