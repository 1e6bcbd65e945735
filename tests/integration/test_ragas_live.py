"""`python -m evals.ragas_rag` end to end on a three-paragraph SQuAD file: the real RAG graph on the
embedded model answers, ragas scores without a judge, the local judge's outcome is counted (a
score, a NaN, a timeout or an error, never dropped), and CSV, JSON, markdown and plot are written."""

from __future__ import annotations

import csv
import json
import os
import subprocess

import pytest

from servers import ROOT, python

pytestmark = pytest.mark.slow


def paragraph(context: str, id_: str, question: str, answer: str) -> dict:
    return {"context": context, "qas": [{"id": id_, "question": question,
                                         "answers": [{"text": answer, "answer_start": context.find(answer)}]}]}


SQUAD = {"version": "1.1", "data": [
    {"title": "Harbor Office", "paragraphs": [
        paragraph("The Harbor office opens at 08:00. Visitors sign in at the front desk and receive a badge.",
                  "h1", "When does the Harbor office open?", "08:00"),
        paragraph("Bicycles are parked in the courtyard. The courtyard gate closes at 20:00 every day.",
                  "h2", "Where are bicycles parked?", "in the courtyard")]},
    {"title": "Canteen", "paragraphs": [
        paragraph("The canteen serves lunch from 12:00 to 13:30. Soup costs 3 euros.",
                  "c1", "How much does soup cost?", "3 euros")]},
]}
REFERENCE_METRICS = ["non_llm_context_precision_with_reference", "non_llm_context_recall", "non_llm_string_similarity",
                     "rouge_score", "exact_match", "string_present"]


def test_ragas_run_scores_the_rag_graph_and_counts_judge_failures(tmp_path):
    data = tmp_path / "squad.json"
    data.write_text(json.dumps(SQUAD))
    out = tmp_path / "ragas"
    env = {**os.environ, "HEARTH_HOME": str(tmp_path / "home")}
    done = subprocess.run(python("-m", "evals.ragas_rag", "--data", str(data), "--limit", "3", "--judge",
                                 "local?temperature=0&max_tokens=48", "--judge-limit", "1", "--timeout", "10",
                                 "--out", str(out)), cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]

    summary = {s["metric"]: s for s in json.loads((out / "ragas_rag.json").read_text())["summary"]}
    assert list(summary) == REFERENCE_METRICS + ["faithfulness", "answer_relevancy"]
    for name in REFERENCE_METRICS:
        assert summary[name]["ok"] == 3, name  # no judge needed: every sample gets a number
    # three paragraphs, four chunks retrieved: the gold paragraph is always among them
    assert summary["non_llm_context_recall"]["mean"] == 1.0
    for name in ("faithfulness", "answer_relevancy"):
        s = summary[name]
        assert s["ok"] + s["nan"] + s["timeout"] + s["error"] == 1 and s["not_scored"] == 2, s

    with (out / "ragas_rag.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["h1", "h2", "c1"] and all(r["response"] and not r["error"] for r in rows)
    assert all(json.loads(r["retrieved_contexts"]) for r in rows)
    markdown = (out / "ragas_rag.md").read_text()
    assert "| rag | non_llm_context_recall | 1.000 | 3 | 0 | 0 | 0 | 0 |" in markdown
    assert (out / "ragas_rag.png").read_bytes()[:4] == b"\x89PNG"
    assert markdown.strip() in done.stdout
