"""The text-to-SQL graph's guards on the real sample business database, with a scripted fake chat
model (FakeSQLChatModel) standing in for the LLM: adapted examples that filter on what the question
never asks for are refused (issue 13), a question naming what the database lacks is answered with
that (issue 19), and `sources` decides who may answer (the benchmark's rows)."""

from __future__ import annotations

from collections import Counter

import pytest

from graphs.text2sql.graph import answer_question
from tools.sql.catalog import open_database
from tools.sql.sample_business import ensure_sample_database
from sql_fakes import FakeSQLChatModel

USELESS = "SELECT NULL WHERE 0"  # scripted: SQL that runs and returns nothing
MARCH = "How many orders were placed in March 2024?"
MARCH_GOLD = "SELECT COUNT(*) FROM orders WHERE order_date >= '2024-03-01' AND order_date < '2024-04-01'"
REGIONS = "How many customers do we have in each region?"
REGIONS_GOLD = "SELECT region, COUNT(*) FROM customers GROUP BY region"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return str(ensure_sample_database(tmp_path_factory.mktemp("sql") / "sample_business.sqlite"))


def ask(question, url, *replies, **options):
    model = FakeSQLChatModel(responses=list(replies) or [USELESS], prompts=[])
    # The shipped examples and documentation, as the apps use them (an empty store file in a fresh home).
    from tools.sql.examples import Example, ExampleStore
    from tools.sql.catalog import QuestionShape, database_profile
    from tools.sql.sample_business import SAMPLE_DOCUMENTATION, SAMPLE_EXAMPLES

    store = ExampleStore(similarity="tfidf", normalize=QuestionShape(database_profile(url)[2]))
    store.extend((e["question"], e["sql"]) for e in SAMPLE_EXAMPLES)
    store.items += [Example("documentation", note) for note in SAMPLE_DOCUMENTATION]
    return answer_question(question, url, model, example_store=store, grammar=False, **options)


def rows(out):
    return Counter(map(tuple, out["result"]["rows"])) if out["result"] else None


def test_march_orders_are_not_answered_by_the_east_region_example(sample):
    gold = Counter(map(tuple, open_database(sample).run(MARCH_GOLD).rows))
    assert gold == Counter({(93,): 1})
    out = ask(MARCH, sample)  # a useless model: only adapted examples could answer
    east = [a for a in out["attempts"] if "'East'" in a["sql"]]
    assert east and all(a["error_kind"] == "ungrounded" and not a["ok"] for a in east)
    assert "East" in east[0]["error"] and rows(out) != Counter({(15,): 1})
    out = ask(MARCH, sample, "SELECT COUNT(*) FROM orders")  # the model's SQL gets the question's period
    assert rows(out) == gold and out["attempts"][-1]["source"] == "model"


def test_customers_per_region_are_five_counts_not_the_north_list(sample):
    gold = Counter(map(tuple, open_database(sample).run(REGIONS_GOLD).rows))
    assert len(gold) == 5
    out = ask(REGIONS, sample)
    assert not any(a["ok"] and "'North'" in a["sql"] for a in out["attempts"])
    assert not out["result"] or len(out["result"]["rows"]) != 33
    out = ask(REGIONS, sample, "SELECT region, COUNT(*) FROM customers GROUP BY region")
    assert rows(out) == gold


@pytest.mark.parametrize("question, named", [
    ("How many orders came from the Midwest region?", "Midwest"),
    ("How many employees do we have?", "employees"),
    ("What is the revenue of the Laptop Pro 15?", "Laptop Pro 14"),
    ("How many customers live in Paris?", "Paris"),
])
def test_a_question_naming_what_the_database_lacks_is_told_so_and_nothing_runs(sample, question, named):
    out = ask(question, sample, "SELECT COUNT(*) FROM orders")
    assert out["missing"] and named in out["answer"] and "does not hold" in out["answer"]
    assert out["attempts"] == [] and out["result"] is None and not out["ok"]


def test_the_region_abstention_lists_the_regions_the_database_has(sample):
    out = ask("How many orders came from the Midwest region?", sample)
    assert all(r in out["answer"] for r in ("Central", "East", "North", "South", "West"))


@pytest.mark.parametrize("question", ["Which customers in the West region ordered in Q4 2025?",
                                      "Which customers in Bristol are Enterprise customers?",
                                      "How many products are in the Storage category?"])
def test_answerable_questions_are_not_refused(sample, question):
    assert ask(question, sample)["missing"] == []


def test_coverage_check_can_be_switched_off(sample):
    out = ask("How many employees do we have?", sample, "SELECT COUNT(*) FROM customers", check_coverage=False)
    assert out["missing"] == [] and out["result"]["rows"] == [[200]]


def test_sources_decide_who_may_answer(sample):
    question = "Which 4 customers brought in the most revenue?"  # no stored example is this close (rule test)
    gold_sql = ("SELECT cu.name, ROUND(SUM(oi.quantity * oi.unit_price), 2) AS revenue FROM order_items AS oi "
                "JOIN orders AS o ON o.id = oi.order_id JOIN customers AS cu ON cu.id = o.customer_id "
                "GROUP BY cu.id, cu.name ORDER BY revenue DESC LIMIT 4")
    gold = open_database(sample).run(gold_sql).rows
    examples = ask(question, sample, sources="examples")  # no model call: adapted examples only
    assert examples["attempts"] and all(a["source"].startswith("example") for a in examples["attempts"])
    right = ask(question, sample, gold_sql, sources="model")  # a scripted model writing the gold SQL
    assert {a["source"] for a in right["attempts"]} == {"model"} and [tuple(r) for r in right["result"]["rows"]] == gold
    useless = ask(question, sample, sources="model")  # the model's SQL only: nothing to fall back on
    assert {a["source"] for a in useless["attempts"]} == {"model"} and not useless["ok"]
    with pytest.raises(ValueError, match="HEARTH_SQL_SOURCES"):
        ask(question, sample, sources="both")


def test_the_tool_and_cli_report_an_abstention_as_the_error(sample, monkeypatch, capsys):
    import sys
    import types

    from apps.sql_ask import main
    from tools.sql.tool import normalize_answer

    out = ask("How many orders came from the Midwest region?", sample)
    answer = normalize_answer(out["question"], out)
    assert answer.error == out["answer"] and "Midwest" in answer.error and not answer.rows
    fake = types.ModuleType("graphs.text2sql.graph")  # scripted: the graph's real abstention, replayed
    fake.answer_question = lambda question, **kwargs: out
    monkeypatch.setitem(sys.modules, "graphs.text2sql.graph", fake)
    assert main(["How many orders came from the Midwest region?", "--db", sample]) == 1
    assert "region 'Midwest'" in capsys.readouterr().err


def test_model_sql_filtering_on_what_the_question_never_says_is_refused_and_retried(sample):
    """The embedded model answered 'How many products are there?' with `WHERE products.id = 1` (1, not 40)."""
    out = ask("How many products are there?", sample, "SELECT COUNT(*) FROM products WHERE products.id = 1",
              "SELECT COUNT(*) FROM products")
    assert [a["error_kind"] for a in out["attempts"]][:1] == ["ungrounded"] and "products.id = 1" in out["attempts"][0]["error"]
    assert out["result"]["rows"] == [[40]] and out["attempts"][-1]["source"] == "model"
