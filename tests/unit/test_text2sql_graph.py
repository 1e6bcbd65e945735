"""Text-to-SQL graph logic: value/schema linking, validation, error classification, grammar,
example store, charts and routing, on a small real SQLite file and a scripted fake chat model."""

from __future__ import annotations

import sqlite3

import pytest

from tools.sql.charts import chart_spec, render_chart_png
from tools.sql.examples import ExampleStore
from graphs.text2sql.graph import answer_question, route_after_check
from tools.sql.catalog import database_profile
from tools.sql.prompt import extract_sql
from graphs.text2sql.context import Context
from tools.sql.linking import ValueIndex, link_schema
from tools.sql.grammar import schema_grammar
from graphs.text2sql.state import State
from tools.sql.validation import SQLValidationError, classify_execution_error, validate_sql
from sql_fakes import FakeSQLChatModel


@pytest.fixture()
def geo_db(tmp_path):
    path = tmp_path / "geo.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE state (state_name text, population int, area double, capital text);
            CREATE TABLE city (city_name text, population int, state_name text);
            CREATE TABLE river (river_name text, length int, traverse text);
            INSERT INTO state VALUES ('arizona', 2718000, 114000, 'phoenix'), ('texas', 14229000, 266807, 'austin'),
                                     ('new mexico', 1303000, 121412, 'santa fe');
            INSERT INTO city VALUES ('phoenix', 789704, 'arizona'), ('tucson', 330537, 'arizona'),
                                    ('houston', 1595138, 'texas'), ('austin', 345496, 'texas');
            INSERT INTO river VALUES ('colorado', 2333, 'arizona'), ('rio grande', 3033, 'texas');
        """)
    return str(path)


def fake_model(*replies):
    return FakeSQLChatModel(responses=list(replies), prompts=[])


def store_with(*pairs, url):
    return ExampleStore(similarity="tfidf", normalize=database_profile(url)[2].mask).extend(pairs)


# -- linking ---------------------------------------------------------------------------------
def test_value_linking_finds_exact_multiword_and_misspelt_values():
    index = ValueIndex({("state", "state_name"): ["arizona", "new mexico"], ("city", "city_name"): ["phoenix"]})
    found = {(m.column, m.value, m.span) for m in index.match("Which cities of New Mexico and arizna are near phoenix?")}
    assert found == {("state_name", "new mexico", "new mexico"), ("state_name", "arizona", "arizna"),
                     ("city_name", "phoenix", "phoenix")}
    assert index.mask("biggest city in new mexico") == "biggest city in state_name"


def test_schema_linking_keeps_only_tables_the_question_points_at(geo_db):
    columns, _, index = database_profile(geo_db)
    question = "what is the biggest city in arizona"
    linked = link_schema(question, columns, index.match(question))
    assert "city" in linked.tables and "river" in linked.tables  # river: 'arizona' is a traverse value
    assert "CREATE TABLE city (city_name text" in linked.ddl()
    assert "city.city_name" not in linked.value_hints()  # only columns that hold the value
    assert "state.state_name = 'arizona'" in linked.value_hints()
    vague = link_schema("show everything", columns, [])
    assert set(vague.tables) == {"state", "city", "river"}


# -- validation and errors ---------------------------------------------------------------------
def test_validation_resolves_tables_and_columns_and_allows_only_one_select(geo_db):
    _, mapping, _ = database_profile(geo_db)
    assert validate_sql("select city_name from city;", mapping, "sqlite") == "SELECT city_name FROM city"
    cases = {"SELECT nope FROM city": "unknown_identifier", "SELECT city_name FROM towns": "unknown_identifier",
             "SELECT FROM WHERE (": "syntax", "DROP TABLE city": "unsafe",
             "SELECT 1; DELETE FROM city": "unsafe", "": "syntax"}
    for sql, kind in cases.items():
        with pytest.raises(SQLValidationError) as err:
            validate_sql(sql, mapping, "sqlite")
        assert err.value.kind == kind, sql


def test_execution_errors_are_classified_with_feedback_text():
    from tools.sql.database import SQLExecutionError

    assert classify_execution_error(SQLExecutionError("timeout", "interrupted")).kind == "timeout"
    assert classify_execution_error(RuntimeError("operator does not exist: text > integer (datatype mismatch)")).kind in ("type", "unknown_identifier")
    feedback = classify_execution_error(RuntimeError("no such column: foo"))
    assert feedback.kind == "unknown_identifier" and "Use only the tables" in feedback.text()


def test_grammar_names_only_linked_columns_and_values():
    assert 'root ::= select ";"?' in schema_grammar({"t": ["a"]}, []), \
        "a required ';' masks end-of-text and pushes a model that stops after the SQL into invented conditions"
    gbnf = schema_grammar({"city": ["city_name", "state_name"]}, ["arizona", "o'hare"])
    assert 'column ::= "city.city_name" | "city.state_name"' in gbnf
    assert "string ::= \"'arizona'\"" in gbnf and "o'hare" not in gbnf
    assert "[^'\\n]" in schema_grammar({"t": ["a"]}, [])
    with pytest.raises(ValueError):
        schema_grammar({}, [])


def test_extract_sql_from_free_text():
    assert extract_sql("Sure!\n```sql\nSELECT a FROM t;\n```") == "SELECT a FROM t"
    assert extract_sql("select 1\n\nThat is all") == "select 1"


# -- example store -------------------------------------------------------------------------
def test_example_store_persists_and_retrieves_by_shape(tmp_path):
    path = tmp_path / "examples.jsonl"
    store = ExampleStore(path, similarity="tfidf")
    store.add_question_sql("how many cities are in texas", "SELECT COUNT(*) FROM city WHERE state_name = 'texas'")
    store.add_question_sql("what is the capital of texas", "SELECT capital FROM state WHERE state_name = 'texas'")
    store.add_documentation("traverse holds the states a river flows through")
    reloaded = ExampleStore(path, similarity="tfidf")
    best, score = reloaded.get_similar_question_sql("what is the capital of ohio", k=1)[0]
    assert best.sql.startswith("SELECT capital") and score > 0
    assert reloaded.get_related_documentation("which states does the river traverse") == ["traverse holds the states a river flows through"]
    path.write_text(path.read_text() + "not json\n")
    with pytest.raises(ValueError, match="examples.jsonl:4"):
        ExampleStore(path)


# -- charts --------------------------------------------------------------------------------
def test_chart_spec_and_png(tmp_path):
    spec = chart_spec(["quarter", "sales"], [("2024-Q1", 10.0), ("2024-Q2", 12.5)])
    assert spec == {"kind": "line", "x": "quarter", "y": "sales"}
    assert chart_spec(["category", "n"], [("a", 1), ("b", 2)])["kind"] == "bar"
    assert chart_spec(["a", "b"], [("x", "y"), ("z", "w")]) is None
    png = render_chart_png(["category", "n"], [("a", 1), ("b", 2)], {"kind": "bar", "x": "category", "y": "n"}, tmp_path / "c.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


# -- graph routing with a scripted fake chat model --------------------------------------------------
def test_a_failing_query_is_fed_back_and_regenerated(geo_db):
    model = fake_model("SELECT mayor FROM town", "SELECT city_name FROM city WHERE state_name = 'arizona'")
    out = answer_question("which cities are in arizona", geo_db, model=model, few_shot=0, self_correction=True,
                          max_attempts=3, example_store=ExampleStore())
    assert out["ok"] and sorted(r[0] for r in out["result"]["rows"]) == ["phoenix", "tucson"]
    assert [a["error_kind"] for a in out["attempts"]] == ["unknown_identifier", None]
    assert out["attempt"] == 2 and "no such table" in model.prompts[1] and "SELECT mayor FROM town" in model.prompts[1]


def test_repairs_fix_a_misspelt_column_and_a_copied_literal_without_a_retry(geo_db):
    model = fake_model("SELECT city_nam FROM city WHERE state_name = 'texas' AND population > 500000")
    out = answer_question("cities in arizona with more than 500000 people", geo_db, model=model, few_shot=0,
                          example_store=ExampleStore())
    assert out["result"]["rows"] == [["phoenix"]] and out["attempts"][0]["repairs"] == ["identifiers", "literals"]
    assert out["answer"] == "The answer is phoenix."


def test_without_self_correction_the_first_error_is_the_answer(geo_db):
    out = answer_question("which cities are in arizona", geo_db, model=fake_model("SELECT mayor FROM town", "SELECT 1"),
                          few_shot=0, self_correction=False, example_store=ExampleStore())
    assert not out["ok"] and out["result"] is None and len(out["attempts"]) == 1
    assert out["answer"].startswith("I could not write a query") and "no such table" in out["answer"]


def test_a_very_similar_example_is_adapted_and_run_without_calling_the_model(geo_db):
    store = store_with(("what is the biggest city in texas",
                        "SELECT city_name FROM city WHERE population = (SELECT MAX(population) FROM city WHERE state_name = 'texas')"),
                       url=geo_db)
    model = fake_model()  # no replies: calling it would raise
    out = answer_question("what is the biggest city in arizona", geo_db, model=model, example_store=store)
    assert out["result"]["rows"] == [["phoenix"]] and out["attempt"] == 0 and model.prompts == []
    assert out["attempts"][0]["source"] == "example 1" and "'arizona'" in out["sql"]


def test_examples_reach_the_prompt_with_the_questions_values_and_back_up_the_model(geo_db):
    store = store_with(("how long is the rio grande river", "SELECT length FROM river WHERE river_name = 'rio grande'"), url=geo_db)
    model = fake_model("SELECT length FROM river WHERE river_name = 'nile'")
    out = answer_question("what length has colorado", geo_db, model=model, example_store=store, example_trust=2.0)
    assert "river_name = 'colorado'" in model.prompts[0] and "rio grande" not in model.prompts[0].split("Examples:")[1].split("SQL:")[1]
    assert out["result"]["rows"] == [[2333]]


def test_empty_results_are_retried_then_reported_and_a_chart_comes_with_numbers_by_category(geo_db):
    model = fake_model("SELECT city_name FROM city WHERE population > 99999999", "SELECT city_name FROM city WHERE population > 99999999")
    out = answer_question("which cities have more than 99999999 people", geo_db, model=model, few_shot=0, max_attempts=2, example_store=ExampleStore())
    assert [a["error_kind"] for a in out["attempts"]] == ["empty_result", "empty_result"]
    assert out["answer"] == "The query ran but found no matching rows." and out["result"]["rows"] == []
    model = fake_model("SELECT state_name, SUM(population) FROM city GROUP BY state_name")
    out = answer_question("population by state", geo_db, model=model, few_shot=0, example_store=ExampleStore())
    assert out["chart"] == {"kind": "bar", "x": "state_name", "y": "SUM(population)"}


def test_route_after_check_stops_at_max_attempts():
    state = State(question="q", attempt=2, attempts=[{"ok": False}, {"ok": False}])

    class FakeRuntime:
        context = Context(model="unused", max_attempts=3)

    assert route_after_check(state, FakeRuntime()) == "generate_sql"
    state.attempt = 3
    assert route_after_check(state, FakeRuntime()) == "answer"
    FakeRuntime.context = Context(model="unused", max_attempts=3, self_correction=False)
    state.attempt = 1
    assert route_after_check(state, FakeRuntime()) == "answer"


@pytest.mark.parametrize("module_name", ["linking", "repair", "validation", "grammar", "charts", "examples", "periods", "prompt"])
def test_docstring_examples(module_name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"tools.sql.{module_name}"))
    assert result.attempted > 0 and result.failed == 0
