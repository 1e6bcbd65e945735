"""Period and 'top N' linking of the text-to-SQL graph: parsing, rewriting SQL dates/LIMIT, the
example shortcut's guard, and the graph on a small real SQLite file with a scripted fake chat model."""

from __future__ import annotations

import sqlite3

import pytest

from tools.sql.examples import ExampleStore
from graphs.text2sql.graph import answer_question
from tools.sql.adaptation import example_fits
from tools.sql.catalog import QuestionShape, database_profile, reference_date
from tools.sql.periods import (Period, add_period, drop_periods, find_periods, mask_numbers, replace_limit,
                                     replace_periods, requested_limit)
from sql_fakes import FakeSQLChatModel

END_OF_2025 = "2025-12-31"


@pytest.mark.parametrize("question, today, expected", [
    ("What were our total sales in Q2 2025 by product category?", END_OF_2025, [("2025-04-01", "2025-07-01")]),
    ("sales in the second quarter of 2025", END_OF_2025, [("2025-04-01", "2025-07-01")]),
    ("revenue for 2025 q3", END_OF_2025, [("2025-07-01", "2025-10-01")]),
    ("Monthly revenue in 2024", END_OF_2025, [("2024-01-01", "2025-01-01")]),
    ("orders in March 2025", END_OF_2025, [("2025-03-01", "2025-04-01")]),
    ("orders in sept 2024", END_OF_2025, [("2024-09-01", "2024-10-01")]),
    ("orders in 2025-02", END_OF_2025, [("2025-02-01", "2025-03-01")]),
    ("orders from the West region last quarter", END_OF_2025, [("2025-10-01", "2026-01-01")]),
    ("orders last quarter", "2025-11-15", [("2025-07-01", "2025-10-01")]),  # Q4 is not complete yet
    ("this quarter", "2025-11-15", [("2025-10-01", "2026-01-01")]),
    ("revenue last month", END_OF_2025, [("2025-12-01", "2026-01-01")]),
    ("revenue last month", "2025-03-10", [("2025-02-01", "2025-03-01")]),
    ("revenue this year", END_OF_2025, [("2025-01-01", "2026-01-01")]),
    ("revenue last year", END_OF_2025, [("2024-01-01", "2025-01-01")]),
    ("orders between January 2025 and March 2025 by region", END_OF_2025, [("2025-01-01", "2025-04-01")]),
    ("orders from 2024-02-01 to 2024-03-15", END_OF_2025, [("2024-02-01", "2024-03-16")]),
    ("revenue in 2024 and in 2025", END_OF_2025, [("2024-01-01", "2025-01-01"), ("2025-01-01", "2026-01-01")]),
    ("Top 5 customers by revenue", END_OF_2025, []),
])
def test_periods_are_found_as_half_open_date_ranges(question, today, expected):
    assert [(p.start, p.end) for p in find_periods(question, today)] == expected


def test_masks_and_limits_give_the_shape_examples_are_compared_by():
    assert mask_numbers("Total sales in Q2 2025 by category") == "Total sales in period by category"
    assert mask_numbers("Top 5 customers by revenue") == mask_numbers("top 3 customers by revenue").capitalize()
    assert mask_numbers("orders last quarter") == mask_numbers("orders in Q3 2025").replace("in ", "")
    assert requested_limit("Top 5 customers by revenue") == 5
    assert requested_limit("the three largest orders") == 3 and requested_limit("revenue in 2024") is None


def test_example_dates_and_limit_are_replaced_by_the_questions():
    example = ("SELECT c.name, SUM(x) AS revenue FROM orders AS o JOIN c ON c.id = o.cid "
               "WHERE o.order_date >= '2024-01-01' AND o.order_date < '2024-04-01' GROUP BY c.name ORDER BY revenue DESC LIMIT 10")
    q2 = find_periods("in Q2 2025", END_OF_2025)
    adapted = replace_limit(replace_periods(example, q2, "sqlite"), 5, "sqlite")
    assert "o.order_date >= '2025-04-01' AND o.order_date < '2025-07-01'" in adapted and adapted.endswith("LIMIT 5")
    assert "2024" not in adapted
    between = replace_periods("SELECT 1 FROM orders WHERE order_date BETWEEN '2024-01-01' AND '2024-03-31'", q2, "sqlite")
    assert between == "SELECT 1 FROM orders WHERE (order_date >= '2025-04-01' AND order_date < '2025-07-01')"
    assert replace_periods(example, [], "sqlite") == example  # no period: unchanged
    assert drop_periods(example, "sqlite") == ("SELECT c.name, SUM(x) AS revenue FROM orders AS o JOIN c ON c.id = o.cid "
                                               "GROUP BY c.name ORDER BY revenue DESC LIMIT 10")
    assert drop_periods("SELECT 1 FROM orders WHERE x = 1 AND order_date >= '2024-01-01'", "sqlite") == \
        "SELECT 1 FROM orders WHERE x = 1"
    assert replace_limit("SELECT a FROM t", 5, "sqlite") == "SELECT a FROM t"  # unordered: no LIMIT invented


def test_a_period_the_sql_leaves_out_is_added_to_the_select_reading_the_dated_table():
    period = Period("2025-04-01", "2025-07-01", "Q2 2025", 0)
    sql = "SELECT cu.region, COUNT(*) FROM orders AS o JOIN customers AS cu ON cu.id = o.customer_id GROUP BY cu.region"
    assert add_period(sql, period, {"orders": "order_date"}, "sqlite") == (
        "SELECT cu.region, COUNT(*) FROM orders AS o JOIN customers AS cu ON cu.id = o.customer_id "
        "WHERE o.order_date >= '2025-04-01' AND o.order_date < '2025-07-01' GROUP BY cu.region")
    assert add_period("SELECT COUNT(*) FROM customers", period, {"orders": "order_date"}, "sqlite") == \
        "SELECT COUNT(*) FROM customers"


# -- the graph -----------------------------------------------------------------------------
@pytest.fixture()
def shop_db(tmp_path):
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, segment TEXT, region TEXT);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, order_date DATE);
            INSERT INTO customers VALUES (1, 'Acme', 'SMB', 'East'), (2, 'Birch', 'Enterprise', 'West'),
                                         (3, 'Cedar', 'SMB', 'West');
            INSERT INTO orders VALUES (1, 1, '2025-08-02'), (2, 2, '2025-08-10'), (3, 2, '2025-11-03'),
                                      (4, 3, '2025-12-30'), (5, 1, '2025-10-15'), (6, 3, '2024-05-01');
        """)
    return str(path)


def shop_store(url, *pairs):
    return ExampleStore(similarity="tfidf", normalize=QuestionShape(database_profile(url)[2])).extend(pairs)


def test_the_shortcut_guard_needs_the_same_columns_numbers_and_a_period(shop_db):
    assert example_fits("How many customers do we have in each segment?", "How many customers in each segment?", shop_db)
    assert not example_fits("How many customers do we have in each segment?", "How many customers do we have in each region?", shop_db)
    assert not example_fits("Top 3 customers by number of orders", "Top 5 customers by revenue", shop_db)
    assert example_fits("Orders from the East region in Q3 2025", "Orders from the West region last quarter", shop_db)
    assert not example_fits("Orders from the East region", "Orders from the West region last quarter", shop_db)
    assert not example_fits("Orders with 2 items", "Orders with 3 items", shop_db)
    # A column the question names but the example question does not is fine when the example SQL uses it.
    east = ("List the customers in the East region", "SELECT name, segment FROM customers WHERE region = 'East'")
    assert example_fits(east[0], "Customers and their segment in the West region", shop_db, east[1], "sqlite")
    assert not example_fits(east[0], "Customers and their segment in the West region", shop_db)


def test_an_example_is_adapted_to_the_questions_region_and_period_without_the_model(shop_db):
    store = shop_store(shop_db, ("How many orders came from the East region in Q3 2025?",
                                 "SELECT COUNT(*) AS orders FROM orders AS o JOIN customers AS cu ON cu.id = o.customer_id "
                                 "WHERE cu.region = 'East' AND o.order_date >= '2025-07-01' AND o.order_date < '2025-10-01'"))
    model = FakeSQLChatModel(responses=[], prompts=[])  # no replies: calling it would raise
    out = answer_question("How many orders came from the West region last quarter?", shop_db, model=model,
                          example_store=store, today=END_OF_2025)
    assert out["result"]["rows"] == [[2]] and model.prompts == [] and out["attempts"][0]["source"] == "example 1"
    assert "'West'" in out["sql"] and "'2025-10-01'" in out["sql"] and "'2026-01-01'" in out["sql"]


def test_a_question_about_another_column_goes_to_the_model_and_its_dates_are_repaired(shop_db):
    store = shop_store(shop_db, ("How many customers do we have in each segment?",
                                 "SELECT segment, COUNT(*) AS customers FROM customers GROUP BY segment"))
    model = FakeSQLChatModel(responses=["SELECT region, COUNT(*) FROM customers GROUP BY region"], prompts=[])
    out = answer_question("How many customers do we have in each region?", shop_db, model=model, example_store=store)
    assert len(model.prompts) == 1 and sorted(map(tuple, out["result"]["rows"])) == [("East", 1), ("West", 2)]
    # The model copies an example's dates: they become the question's period; a missing period is added.
    for reply in ("SELECT COUNT(*) FROM orders WHERE order_date >= '2024-01-01' AND order_date < '2024-04-01'",
                  "SELECT COUNT(*) FROM orders"):
        model = FakeSQLChatModel(responses=[reply], prompts=[])
        out = answer_question("How many orders in Q4 2025?", shop_db, model=model, example_store=ExampleStore(), few_shot=0)
        assert out["result"]["rows"] == [[3]] and "'2025-10-01'" in out["sql"] and "periods" in out["attempts"][0]["repairs"]


def test_reference_date_comes_from_the_option_the_documentation_or_the_data(shop_db):
    store = ExampleStore()
    assert reference_date("2025-06-30", shop_db, store) == "2025-06-30"
    assert reference_date("", shop_db, store) == "2025-12-30"  # the latest order
    store.add_documentation("The data covers 2024-01-01 to 2025-09-30.")  # in memory: the store has no file
    assert reference_date("", shop_db, store) == "2025-09-30"
