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
    from training.reward_model import reward_home

    reward = reward_home() / "probe-demo"
    reward.mkdir(parents=True)
    rows = [{"method": m, "accuracy": a, "ci95_low": a - 0.05, "ci95_high": a + 0.05, "correct": int(a * 462), "pairs": 462}
            for m, a in (("reward model (linear probe)", 0.641), ("length (longer wins)", 0.431))]
    (reward / "run.json").write_text(json.dumps({"state": "done", "test": {
        "table": rows, "mcnemar_vs_length": {"p": 9e-8}, "mcnemar_vs_loglik": {"p": 3e-4}}}))
    at = AppTest.from_file(str(ROOT / "apps" / "ui" / "lifecycle_page.py"), default_timeout=120).run()
    assert not at.exception
    assert any("sql-demo" in e.label and "40 steps" in e.label for e in at.expander)
    assert any("probe-demo" in e.label and "0.641 on 462" in e.label for e in at.expander)
    levels = [t.value for t in at.table]
    assert any("Q8_0" in str(v) and "Q4_1" in str(v) for v in levels)
    notices = " ".join(i.value for i in at.info) + " ".join(w.value for w in at.warning)
    assert "training.registry register" in notices or "registry could not be read" in notices
