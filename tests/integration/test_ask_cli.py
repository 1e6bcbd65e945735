"""`python -m apps.ask` end to end: first run indexes the handbook, the real embedded model
answers with citations, `--json` is machine-readable, and bad input gets a clear error."""

from __future__ import annotations

import json
import subprocess

import pytest

from evals.handbook_qa import matches
from servers import ROOT, python

pytestmark = pytest.mark.slow


def ask(*args, home, timeout=300):
    import os

    env = {**os.environ, "HEARTH_HOME": str(home)}
    return subprocess.run(python("-m", "apps.ask", *args), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_first_question_indexes_the_handbook_and_cites_it(tmp_path):
    done = ask("--json", "--thread", "t1", "How many days of annual leave do I get?", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "indexing the sample handbook" in done.stderr
    out = json.loads(done.stdout)
    assert matches("25", out["answer"]) and not out["abstained"], out["answer"]  # the README's promise
    cited = [c for c in out["citations"] if c["cited"]]
    assert cited and cited[0]["label"].startswith("annual-leave.md")
    # the same thread remembers the first turn (SQLite checkpointer in HEARTH_HOME)
    again = ask("--json", "--thread", "t1", "And how many can I carry over?", home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "checkpoints.sqlite").is_file()
    assert json.loads(again.stdout)["citations"]


def test_a_question_the_handbook_does_not_cover_gets_an_abstention(tmp_path):
    done = ask("--json", "Can I bring my dog to the office?", home=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["abstained"] is True and out["citations"] == [] and "staff handbook" in out["answer"]


def test_unknown_model_spec_is_explained(tmp_path):
    done = ask("--model", "gpt-9000", "hello?", home=tmp_path)
    assert done.returncode == 2
    assert "Unknown model provider" in done.stderr and "Use one of" in done.stderr


def test_ingest_reports_bad_files_and_keeps_going(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Parking\n\nStaff park in level -2 of the garage.\n")
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 4)
    done = ask("--ingest", str(docs), "--collection", "mine", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 added" in done.stderr and "binary.txt" in done.stderr
    assert done.stdout == ""  # --ingest without a question only indexes
