"""Deterministic sqlglot repairs of generated SQL (no model, no database)."""

from __future__ import annotations

from tools.sql.repair import adapt_example, fix_identifiers, plain_style, repair_sql, substitute_literals
from tools.sql.linking import ValueMatch

SCHEMA = {
    "city": {"city_name": "text", "population": "int", "state_name": "text"},
    "state": {"state_name": "text", "area": "double", "capital": "text"},
}


def arizona(start=6):
    return ValueMatch("state", "state_name", "arizona", "arizona", start)


def test_literal_copied_from_an_example_becomes_the_questions_value():
    sql = "SELECT city_name FROM city WHERE state_name = 'texas'"
    assert substitute_literals(sql, [arizona()], "sqlite") == "SELECT city_name FROM city WHERE state_name = 'arizona'"


def test_a_repeated_literal_maps_to_one_value_and_two_columns_take_their_own():
    sql = ("SELECT city_name FROM city WHERE population = (SELECT MAX(population) FROM city WHERE state_name = 'texas') "
           "AND state_name = 'texas'")
    assert substitute_literals(sql, [arizona()], "sqlite").count("'arizona'") == 2
    values = [ValueMatch("city", "city_name", "atlanta", "atlanta", 4), ValueMatch("state", "state_name", "georgia", "georgia", 5)]
    got = substitute_literals("SELECT population FROM city WHERE city_name = 'dallas' AND state_name = 'texas'", values, "sqlite")
    assert got == "SELECT population FROM city WHERE city_name = 'atlanta' AND state_name = 'georgia'"


def test_a_literal_that_is_already_linked_takes_the_database_spelling_and_unlinked_columns_stay():
    got = substitute_literals("SELECT area FROM state WHERE state_name = 'Arizona' AND capital = 'x'", [arizona()], "sqlite")
    assert got == "SELECT area FROM state WHERE state_name = 'arizona' AND capital = 'x'"
    assert substitute_literals("SELECT 1 FROM city WHERE city_name = 'a'", [], "sqlite") == "SELECT 1 FROM city WHERE city_name = 'a'"


def test_unknown_table_and_columns_become_the_closest_real_ones():
    assert fix_identifiers("SELECT name FROM cities WHERE populaton > 1", SCHEMA, "sqlite") == \
        "SELECT city_name FROM city WHERE population > 1"
    assert fix_identifiers("SELECT c.areaa FROM state AS c", SCHEMA, "sqlite") == "SELECT c.area FROM state AS c"


def test_a_double_quoted_value_is_read_as_a_string_not_a_column():
    assert fix_identifiers('SELECT area FROM state WHERE state_name = "ohio"', SCHEMA, "sqlite") == \
        "SELECT area FROM state WHERE state_name = 'ohio'"


def test_repair_sql_reports_what_it_changed_and_leaves_unparseable_sql_alone():
    sql, changes = repair_sql("SELECT are FROM state WHERE state_name = 'texas'", SCHEMA, [arizona()], "sqlite")
    assert sql == "SELECT area FROM state WHERE state_name = 'arizona'" and changes == ["identifiers", "literals"]
    assert repair_sql("SELEC FROM (", SCHEMA, [], "sqlite") == ("SELEC FROM (", [])


def test_plain_style_drops_aliases_and_adapt_example_fills_the_values():
    gold = ("SELECT CITYalias0.CITY_NAME FROM CITY AS CITYalias0 WHERE CITYalias0.POPULATION = ( SELECT MAX( CITYalias1.POPULATION ) "
            "FROM CITY AS CITYalias1 WHERE CITYalias1.STATE_NAME = 'texas' ) AND CITYalias0.STATE_NAME = 'texas'")
    plain = plain_style(gold, "sqlite")
    assert plain == ("SELECT city.city_name FROM city WHERE city.population = (SELECT MAX(city.population) FROM city "
                     "WHERE city.state_name = 'texas') AND city.state_name = 'texas'")
    assert adapt_example(plain, [arizona()], "sqlite") == plain.replace("texas", "arizona")
    # a self-join keeps its aliases
    assert "AS b" in plain_style("SELECT a.x FROM t AS a JOIN t AS b ON a.x = b.y", "sqlite")
