"""The Streamlit page comparing evaluation runs renders a models x tasks table from runs.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_page_shows_runs_side_by_side(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    run = {"name": "r1", "tasks": ["pubmedqa", "gsm8k"], "limit": 5, "folder": str(tmp_path / "none"),
           "rows": [{"system": "local", "backend": "serve", "seconds": 1.0,
                     "scores": {"pubmedqa": {"metrics": {"acc": 0.4, "acc_norm": 0.7}, "n": 5},
                                "gsm8k": {"metrics": {"exact_match (strict-match)": 0.2}, "n": 5}}}]}
    (tmp_path / "harness").mkdir()
    (tmp_path / "harness" / "runs.jsonl").write_text(json.dumps(run) + "\n")
    monkeypatch.setenv("HEARTH_EVALS_OUT", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "apps" / "ui" / "evals_page.py"), default_timeout=60).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.loc["local [serve] · r1", "pubmedqa"] == pytest.approx(0.4)
    assert table.loc["local [serve] · r1", "gsm8k"] == pytest.approx(0.2)
