"""`python -m apps.search` over a 30-record slice of PubMedQA with the real MiniLM and Qdrant local
mode: the first run indexes, later runs reuse the index, results carry scores and highlighted
sentences, filters hold, bad data paths name the fix; and the Streamlit page shows the same hits."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from models.settings import shared_data
from servers import ROOT, python

pytestmark = pytest.mark.slow

DATA = shared_data() / "pubmedqa_pqal"
LACE_PLANT = "Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?"


def search(*args, home, timeout=300):
    env = {**os.environ, "HEARTH_HOME": str(home)}
    return subprocess.run(python("-m", "apps.search", "--data", str(DATA), "--limit", "30", *args), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    if not (DATA / "ori_pqal.json").exists():
        pytest.skip(f"PubMedQA data not found at {DATA}")
    return tmp_path_factory.mktemp("search-home")


@pytest.fixture(scope="module")
def first_run(home):
    done = search("--query", "mitochondria during programmed cell death in plants", "--k", "3", "--json", home=home)
    assert done.returncode == 0, done.stderr
    return done


def test_first_run_indexes_and_finds_the_paper(first_run):
    assert "30 abstracts indexed" in first_run.stderr
    hits = json.loads(first_run.stdout)
    assert len(hits) == 3 and hits[0]["title"] == LACE_PLANT and hits[0]["pmid"] == "21645374"
    assert hits[0]["score"] > hits[1]["score"] >= hits[2]["score"]
    assert hits[0]["year"] == 2011 and "Mitochondria" in hits[0]["meshes"] and hits[0]["decision"] == "yes"
    assert hits[0]["highlights"] and all(s in hits[0]["text"] for s in hits[0]["highlights"])
    assert any("mitochondria" in s.lower() for s in hits[0]["highlights"])


def test_later_runs_reuse_the_index_and_filters_hold(first_run, home):
    done = search("--query", "children in intensive care", "--mesh", "Child", "--years", "2000", "2010", "--k", "5",
                  "--json", home=home)
    assert done.returncode == 0, done.stderr
    assert "abstracts indexed" not in done.stderr  # nothing embedded again
    hits = json.loads(done.stdout)
    assert hits and all("Child" in h["meshes"] and 2000 <= h["year"] <= 2010 for h in hits)

    text = search("--query", "lace plant", "--k", "1", home=home)
    assert text.returncode == 0 and text.stdout.startswith("1. [") and LACE_PLANT in text.stdout and "»" in text.stdout


def test_missing_data_names_the_fix(tmp_path):
    env = {**os.environ, "HEARTH_HOME": str(tmp_path)}
    done = subprocess.run(python("-m", "apps.search", "--data", str(tmp_path / "nope"), "--query", "x"), cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "not found" in done.stderr and "--data" in done.stderr


def test_search_page_shows_scored_hits_with_highlights(first_run, home, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("HEARTH_INDEX", str(home / "qdrant"))
    monkeypatch.setenv("HEARTH_PUBMEDQA_DATA", str(DATA))
    monkeypatch.setenv("HEARTH_PUBMEDQA_LIMIT", "30")
    at = AppTest.from_file(str(ROOT / "apps" / "ui" / "search_page.py"), default_timeout=240)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("30 abstracts" in c.value for c in at.sidebar.caption)
    at.text_input(key="query").set_value("mitochondria in lace plant leaves").run()
    assert not at.exception
    markdown = [m.value for m in at.markdown]
    assert any(LACE_PLANT in m and "score" in m for m in markdown)
    assert any(":orange-background[" in m for m in markdown)  # matching sentences highlighted
