"""evals.text2sql on a tiny GeoQuery-shaped folder: the rows show what the model adds. With the scripted
useless model (`--model scripted:useless`) the model-only rows are 0 and `full` gets nothing from the
model; a scripted oracle model (a fake that returns the gold SQL) raises model_only, so the model matters."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

import evals.text2sql as bench

TRAIN = [("how many cities are in texas", "SELECT COUNT(*) FROM city WHERE state_name = 'texas'"),
         ("what is the capital of texas", "SELECT capital FROM state WHERE state_name = 'texas'"),
         ("what is the longest river", "SELECT river_name FROM river ORDER BY length DESC LIMIT 1")]
DEV = [("how many cities are in arizona", "SELECT COUNT(*) FROM city WHERE state_name = 'arizona'"),
       ("what is the capital of arizona", "SELECT capital FROM state WHERE state_name = 'arizona'"),
       ("which state has the largest area", "SELECT state_name FROM state ORDER BY area DESC LIMIT 1")]


@pytest.fixture()
def geoquery(tmp_path):
    with sqlite3.connect(tmp_path / "geography.sqlite") as conn:
        conn.executescript("""
            CREATE TABLE state (state_name text, population int, area double, capital text);
            CREATE TABLE city (city_name text, population int, state_name text);
            CREATE TABLE river (river_name text, length int, traverse text);
            INSERT INTO state VALUES ('arizona', 2718000, 114000, 'phoenix'), ('texas', 14229000, 266807, 'austin');
            INSERT INTO city VALUES ('phoenix', 1, 'arizona'), ('tucson', 2, 'arizona'), ('houston', 3, 'texas');
            INSERT INTO river VALUES ('colorado', 2333, 'arizona'), ('rio grande', 3033, 'texas');""")
    for split, pairs in (("train", TRAIN), ("dev", DEV)):
        (tmp_path / f"{split}.jsonl").write_text("".join(
            json.dumps({"id": f"{split}-{i}", "question": q, "query": s}) + "\n" for i, (q, s) in enumerate(pairs)))
    return tmp_path


def run(folder, *extra):
    return bench.main(["--data", str(folder), "--similarity", "tfidf", "--limit", "3", "--out", str(folder / "out"),
                       "--systems", "examples_only,model_only,full", *extra])["systems"]


class OracleModel(FakeListChatModel):
    """Scripted fake: answers each prompt's question with its gold SQL."""

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        asked = re.findall(r"Question: (.*)\nSQL:", str(messages[-1].content))[-1]
        return dict(TRAIN + DEV).get(asked, "SELECT NULL WHERE 0")


def test_a_useless_model_leaves_model_only_at_zero_and_full_gets_nothing_from_it(geoquery):
    systems = run(geoquery, "--model", "scripted:useless")
    assert systems["model_only"]["correct"] == 0 and systems["model_only"]["winner_sources"] == {"none": 3}
    assert systems["full"]["correct_from_model"] == 0
    assert systems["full"]["correct"] == systems["examples_only"]["correct"] == \
        systems["examples_only"]["correct_from_example"] == 2  # the two 'arizona' questions adapt a texas example
    assert "| model_only | 3 | 0.0% | 0 | 0 | 0 |" in (geoquery / "out" / "dev-scripted-useless.md").read_text()


def test_the_model_flag_changes_model_only(geoquery, monkeypatch):
    monkeypatch.setattr(bench, "chat_model", lambda spec, max_tokens: OracleModel(responses=["unused"]))
    systems = run(geoquery, "--model", "oracle")
    assert systems["model_only"]["correct"] == systems["model_only"]["correct_from_model"] == 3
    assert systems["examples_only"]["correct"] == 2  # no model call: unchanged
