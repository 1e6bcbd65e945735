"""The lifecycle page (python -m apps.lifecycle) lists fine-tuning runs with their export levels and
says what to run when nothing is registered yet.

    .venv/bin/python -m pytest tests/unit/test_lifecycle_page.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_page_lists_runs_and_exports(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    from training.sft import runs_folder

    run = runs_folder() / "sql-demo"
    (run / "export").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({
        "state": "finished", "dataset_sha256": "ab" * 32, "mlflow_run_id": "r1",
        "metrics": {"steps": 40, "train_loss": 0.61},
        "settings": {"data": "sql.jsonl", "method": "lora"}}))
    (run / "export" / "export.json").write_text(json.dumps({"levels": {
        "Q8_0": {"size_mb": 144.8, "agreement": 1.0, "loses_finetune": False},
        "Q4_1": {"size_mb": 98.0, "agreement": 0.05, "loses_finetune": True}}}))
    at = AppTest.from_file(str(ROOT / "apps" / "ui" / "lifecycle_page.py"), default_timeout=120).run()
    assert not at.exception
    assert any("sql-demo" in e.label and "40 steps" in e.label for e in at.expander)
    levels = [t.value for t in at.table]
    assert any("Q8_0" in str(v) and "Q4_1" in str(v) for v in levels)
    notices = " ".join(i.value for i in at.info) + " ".join(w.value for w in at.warning)
    assert "training.registry register" in notices or "registry could not be read" in notices
