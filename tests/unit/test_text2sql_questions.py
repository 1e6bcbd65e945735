"""A checked rule: no question a test or a demo asks of the sample business database equals or
near-duplicates a stored example after the graph's own normalisation, so no test or demo is
answered from a stored copy of itself. Near-duplicate: the same shape (`QuestionShape`: cell values
-> their column, periods -> 'period', the N of 'top N' -> 'n'), or a similarity at or above the
graph's `example_trust` (the score from which the graph tries an example first), measured by the
graph's default similarity (MiniLM embeddings).

Also: the held-out business questions (evals/data/sql_business.jsonl) have gold SQL that runs, a
frozen test part, and none is refused as naming something the database lacks."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from graphs.text2sql.context import Context
from tools.sql.catalog import QuestionShape, database_profile, vocabulary
from tools.sql.coverage import missing_mentions
from tools.sql.examples import ExampleStore
from tools.sql.sample_business import SAMPLE_EXAMPLES, ensure_sample_database

ROOT = Path(__file__).resolve().parents[2]
BUSINESS = ROOT / "evals" / "data" / "sql_business.jsonl"
SCHEMA_WORDS = re.compile(r"\b(customer|order|product|revenue|sales|categor|region|segment)", re.IGNORECASE)


def business_questions() -> list[dict]:
    return [json.loads(line) for line in BUSINESS.read_text(encoding="utf-8").splitlines() if line.strip()]


def asked_questions() -> dict[str, str]:
    """question -> where it is asked: the business set, the apps' sample questions and docstrings, the
    README, and every question-like string in the SQL tests."""
    found = {q["question"]: "evals/data/sql_business.jsonl" for q in business_questions()}
    for path in ["apps/ui/sql_page.py", "apps/sql_ask.py", "tests/integration/test_sql_apps.py",
                 "tests/integration/test_text2sql_live.py", "tests/unit/test_text2sql_guards.py"]:
        for node in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts = [node.value] + re.findall(r'apps\.sql_ask "([^"]+)"', node.value)
                for text in texts:
                    if len(text.split()) >= 3 and SCHEMA_WORDS.search(text) and "\n" not in text.strip() \
                            and not re.match(r"(?i)\s*(select|with)\b", text) and len(text) < 120:
                        found.setdefault(text, path)
    for text in re.findall(r'apps\.sql_ask "([^"]+)"', (ROOT / "README.md").read_text(encoding="utf-8")):
        found.setdefault(text, "README.md")
    return found


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return str(ensure_sample_database(tmp_path_factory.mktemp("sql") / "sample_business.sqlite"))


def test_no_test_or_demo_question_is_a_stored_example_or_a_near_duplicate(sample):
    shape = QuestionShape(database_profile(sample)[2])

    def canonical(text):
        return " ".join(re.findall(r"[a-z0-9_]+", shape(text).lower()))

    stored = {canonical(e["question"]): e["question"] for e in SAMPLE_EXAMPLES}
    store = ExampleStore(similarity=Context(model="unused").similarity, normalize=shape)
    store.extend((e["question"], e["sql"]) for e in SAMPLE_EXAMPLES)
    trust = Context(model="unused").example_trust
    questions = asked_questions()
    assert len(questions) >= 20
    clashes = []
    for question, where in questions.items():
        (best, score), = store.get_similar_question_sql(question, k=1)
        if canonical(question) in stored or score >= trust:
            clashes.append(f"{where}: {question!r} ~ stored {best.question!r} ({score:.2f})")
    assert not clashes, "\n".join(clashes)


def test_the_rule_catches_a_copy_with_other_values(sample):
    shape = QuestionShape(database_profile(sample)[2])
    assert shape("Top 5 customers by revenue") == shape("Top 3 customers by revenue")
    assert shape("How many orders came from the West region in Q4 2025?") == \
        shape("How many orders came from the East region in Q3 2025?")


def test_business_questions_have_running_gold_sql_and_a_frozen_test_part(sample):
    from tools.sql.database import SQLDatabase

    items = business_questions()
    assert len(items) >= 20 and len({q["id"] for q in items}) == len(items)
    assert {q["split"] for q in items} == {"test", "tuning"}
    assert all(q["split"] == ("tuning" if int(q["id"].split("-")[1]) % 3 == 0 else "test") for q in items)
    with SQLDatabase.open(sample) as db:
        for item in items:
            assert db.run(item["sql"]).rows, item["id"]


def test_no_business_question_is_refused_as_naming_what_the_database_lacks(sample):
    store = ExampleStore(similarity="tfidf").extend((e["question"], e["sql"]) for e in SAMPLE_EXAMPLES)
    words = vocabulary(sample, store)
    index = database_profile(sample)[2]
    refused = {q["question"]: missing_mentions(q["question"], index, words) for q in business_questions()}
    assert not {q: m for q, m in refused.items() if m}
