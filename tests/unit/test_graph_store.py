"""Graph store: real embedded Kùzu in a temporary folder; the Neo4j path through a fake driver
(no Neo4j server can run here), checking the Cypher, parameters and access modes it sends."""

from __future__ import annotations

import doctest

import pytest

import rag.graph_store as graph_store_module
from rag.graph_store import (Entity, GraphCounts, GraphStoreError, KuzuGraphStore, Neo4jGraphStore, Relation,
                             UnsafeCypherError, check_read_only, open_graph_store)

INJECTION = '"}) DETACH DELETE n //'

WRITE_QUERIES = [
    "MATCH (n) DETACH DELETE n",
    "MATCH (n) DELETE n RETURN n",
    "CREATE (n:Person {name: 'x'}) RETURN n",
    "MERGE (n:Person {name: $name}) RETURN n",
    "MATCH (n:Person) SET n.name = 'x' RETURN n",
    "MATCH (n:Person) REMOVE n.name RETURN n",
    "DROP TABLE Person",
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "COPY Person FROM 'people.csv'",
    "CALL dbms.procedures() YIELD name RETURN name",
    "MATCH (n) RETURN n; MATCH (n) DETACH DELETE n",
    "match (n) detach delete n",
    "MATCH (n) RETURN n UNION MATCH (m) FOREACH (x IN [1] | DELETE m) RETURN m",
]


def film_facts(store):
    store.upsert_entities([Entity("Movie", "Inception", {"year": 2010, "source": "inception.md"}),
                           Entity("Movie", "Locke", {"year": 2013, "source": "locke.md"})])
    store.upsert_relations([
        Relation("DIRECTED", "Person", "Christopher Nolan", "Movie", "Inception", {"source": "inception.md"}),
        Relation("ACTED_IN", "Person", "Tom Hardy", "Movie", "Inception", {"source": "inception.md"}),
        Relation("ACTED_IN", "Person", "Tom Hardy", "Movie", "Locke", {"source": "locke.md"}),
        Relation("HAS_GENRE", "Movie", "Locke", "Genre", "Thriller", {"source": "locke.md"}),
    ])


@pytest.fixture
def kuzu_store():
    store = KuzuGraphStore(":memory:")
    film_facts(store)
    return store


def test_kuzu_upserts_query_and_schema(kuzu_store):
    """(In memory here; test_open_graph_store_by_location and the ingest tests use a database file.)"""
    assert kuzu_store.count() == GraphCounts(nodes=5, relationships=4)
    rows = kuzu_store.query("MATCH (p:Person {name: $name})-[r:ACTED_IN]->(m:Movie) RETURN m.name AS title, "
                            "m.year AS year, r.source AS source ORDER BY year", {"name": "Tom Hardy"})
    assert rows == [{"title": "Inception", "year": 2010, "source": "inception.md"},
                    {"title": "Locke", "year": 2013, "source": "locke.md"}]
    schema = kuzu_store.schema()
    assert set(schema.nodes) == {"Person", "Movie", "Genre"}
    assert schema.nodes["Movie"] == {"name": "STRING", "year": "INT64", "source": "STRING"}
    assert "(:Person)-[:ACTED_IN {source}]->(:Movie)" in schema.describe()
    assert "(:Movie)-[:HAS_GENRE {source}]->(:Genre)" in schema.describe()


def test_kuzu_upserts_are_idempotent(kuzu_store):
    film_facts(kuzu_store)
    assert kuzu_store.count() == GraphCounts(nodes=5, relationships=4)


def test_kuzu_adds_a_property_and_a_new_endpoint_pair_to_existing_tables(kuzu_store):
    kuzu_store.upsert_entities([Entity("Movie", "Dunkirk", {"year": 2017, "source": "d.md", "runtime": 106})])
    kuzu_store.upsert_relations([Relation("ACTED_IN", "Person", "Tom Hardy", "Genre", "Thriller", {"source": "x"})])
    assert kuzu_store.query("MATCH (m:Movie {name: 'Dunkirk'}) RETURN m.runtime AS r") == [{"r": 106}]
    pairs = {(r.start, r.end) for r in kuzu_store.schema().relationships if r.type == "ACTED_IN"}
    assert pairs == {("Person", "Movie"), ("Person", "Genre")}


def test_names_with_quotes_unicode_and_cypher_are_stored_as_data(kuzu_store):
    names = [INJECTION, "Ciarán Hinds", "Conan O'Brien", 'Dwayne "The Rock" Johnson', "Bong Joon-ho 봉준호"]
    kuzu_store.upsert_relations([Relation("ACTED_IN", "Person", n, "Movie", "Locke", {"source": "q.md"}) for n in names])
    assert kuzu_store.count() == GraphCounts(nodes=10, relationships=9)
    for name in names:
        rows = kuzu_store.query("MATCH (p:Person {name: $name})-[:ACTED_IN]->(m) RETURN m.name AS m", {"name": name})
        assert rows == [{"m": "Locke"}]


@pytest.fixture(scope="module")
def shared_kuzu_store():
    store = KuzuGraphStore(":memory:")
    film_facts(store)
    return store


@pytest.mark.parametrize("cypher", WRITE_QUERIES)
def test_write_queries_are_refused_and_the_graph_is_untouched(shared_kuzu_store, cypher):
    with pytest.raises(UnsafeCypherError, match="Refused|statement"):
        shared_kuzu_store.query(cypher, {"name": "x"})
    assert shared_kuzu_store.count() == GraphCounts(nodes=5, relationships=4)


def test_the_database_itself_runs_queries_read_only(kuzu_store, monkeypatch):
    """Even if the text check let a write through, Kùzu's READ ONLY transaction refuses it."""
    monkeypatch.setattr(graph_store_module, "check_read_only", lambda cypher: cypher)
    before = kuzu_store.count()
    with pytest.raises(UnsafeCypherError, match="Refused by the database"):
        kuzu_store.query("MATCH (n) DETACH DELETE n")
    assert kuzu_store.count() == before
    assert kuzu_store.query("MATCH (n:Person) RETURN count(n) AS c") == [{"c": 2}]  # the connection still works


def test_forget_source_removes_its_facts_and_orphans_only(kuzu_store):
    kuzu_store.forget_source("locke.md")
    assert kuzu_store.query("MATCH (m:Movie) RETURN m.name AS m") == [{"m": "Inception"}]
    assert kuzu_store.query("MATCH (g:Genre) RETURN g.name AS g") == []  # Thriller had no other film
    assert kuzu_store.query("MATCH (p:Person) RETURN p.name AS who ORDER BY who") == [{"who": "Christopher Nolan"},
                                                                                      {"who": "Tom Hardy"}]
    assert kuzu_store.count() == GraphCounts(nodes=3, relationships=2)


def test_clear_empties_schema_and_counts(kuzu_store):
    kuzu_store.clear()
    assert kuzu_store.count() == GraphCounts(0, 0)
    assert kuzu_store.schema().nodes == {}


def test_labels_and_property_names_must_be_identifiers(kuzu_store):
    before = kuzu_store.count()
    with pytest.raises(GraphStoreError, match="plain identifier"):
        kuzu_store.upsert_entities([Entity("Person) DETACH DELETE (n", "x")])
    with pytest.raises(GraphStoreError, match="plain identifier"):
        kuzu_store.upsert_entities([Entity("Person", "x", {"name = 1 DETACH DELETE n //": 1})])
    assert kuzu_store.count() == before


def test_read_only_check_ignores_keywords_inside_strings_comments_and_properties():
    assert check_read_only("MATCH (n {name: 'a; DELETE x'}) RETURN n.set, n.create // DROP it;") == \
        "MATCH (n {name: 'a; DELETE x'}) RETURN n.set, n.create // DROP it"
    with pytest.raises(UnsafeCypherError, match="Unterminated quote"):
        check_read_only("MATCH (n {name: 'a}) RETURN n")
    with pytest.raises(UnsafeCypherError, match=r"\$parameters"):
        check_read_only("MATCH (n {name: 'a'}) RETURN n", allow_string_literals=False)
    with pytest.raises(UnsafeCypherError, match="no RETURN"):
        check_read_only("MATCH (n)")


def test_open_graph_store_by_location(tmp_path, monkeypatch):
    folder = tmp_path / "graph"
    first = open_graph_store(str(folder))
    assert isinstance(first, KuzuGraphStore) and (folder / "graph.kuzu").exists()
    assert open_graph_store(str(folder)) is first  # one database per location per process
    monkeypatch.setenv("HEARTH_GRAPH", str(folder))
    assert open_graph_store("") is first
    assert isinstance(open_graph_store("bolt://neo4j:pw@127.0.0.1:7687"), Neo4jGraphStore)  # no connection yet
    with pytest.raises(GraphStoreError, match="bolt:// or neo4j://"):
        open_graph_store("http://127.0.0.1:7474")


# --- Neo4j through a fake driver -----------------------------------------------------------------

class FakeNeo4jRecord:
    def __init__(self, row):
        self.row = row

    def data(self):
        return dict(self.row)


class FakeNeo4jResult(list):
    def consume(self):
        return None


class FakeNeo4jTransaction:
    def __init__(self, driver):
        self.driver = driver

    def run(self, cypher, params):
        self.driver.runs.append((self.driver.mode, cypher, params))
        rows = next((rows for marker, rows in self.driver.replies.items() if marker in cypher), [])
        return FakeNeo4jResult(FakeNeo4jRecord(r) for r in rows)


class FakeNeo4jSession:
    def __init__(self, driver, access_mode):
        self.driver, self.access_mode = driver, access_mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute_read(self, work):
        self.driver.mode = ("read", self.access_mode)
        return work(FakeNeo4jTransaction(self.driver))

    def execute_write(self, work):
        self.driver.mode = ("write", self.access_mode)
        return work(FakeNeo4jTransaction(self.driver))


class FakeNeo4jDriver:
    """Stands in for `neo4j.GraphDatabase.driver(...)`: records sessions and every query run."""

    def __init__(self, replies=None):
        self.replies = replies or {}
        self.sessions, self.runs, self.mode = [], [], None

    def session(self, database=None, default_access_mode=None):
        self.sessions.append({"database": database, "access_mode": default_access_mode})
        return FakeNeo4jSession(self, default_access_mode)


def test_neo4j_query_runs_in_a_read_session_with_parameters():
    driver = FakeNeo4jDriver({"ACTED_IN": [{"title": "Locke"}]})
    store = Neo4jGraphStore("neo4j://reader:pw@graph.example:7687/films", driver=driver)
    rows = store.query("MATCH (p:Person {name: $name})-[:ACTED_IN]->(m) RETURN m.name AS title", {"name": INJECTION})
    assert rows == [{"title": "Locke"}]
    assert driver.sessions == [{"database": "films", "access_mode": "READ"}]
    assert driver.runs == [(("read", "READ"), "MATCH (p:Person {name: $name})-[:ACTED_IN]->(m) RETURN m.name AS title",
                            {"name": INJECTION})]


def test_neo4j_refuses_writes_before_anything_reaches_the_server():
    driver = FakeNeo4jDriver()
    store = Neo4jGraphStore("bolt://127.0.0.1:7687", driver=driver)
    for cypher in WRITE_QUERIES:
        with pytest.raises(UnsafeCypherError):
            store.query(cypher)
    assert driver.sessions == [] and driver.runs == []


def test_neo4j_upserts_send_values_as_parameters_in_write_sessions():
    driver = FakeNeo4jDriver()
    store = Neo4jGraphStore("bolt://127.0.0.1:7687", driver=driver)
    store.upsert_entities([Entity("Person", INJECTION, {"born": 1977})])
    store.upsert_relations([Relation("ACTED_IN", "Person", "Tom Hardy", "Movie", "Locke", {"source": "locke.md"})])
    (mode1, entity_cypher, entity_params), (mode2, rel_cypher, rel_params) = driver.runs
    assert mode1 == mode2 == ("write", "WRITE")
    assert entity_cypher == "UNWIND $rows AS row MERGE (n:Person {name: row.name}) SET n += row.properties"
    assert entity_params == {"rows": [{"name": INJECTION, "properties": {"born": 1977}}]}
    assert "MERGE (a)-[r:ACTED_IN]->(b) SET r += row.properties" in rel_cypher
    assert rel_params == {"rows": [{"from_name": "Tom Hardy", "to_name": "Locke", "properties": {"source": "locke.md"}}]}
    assert INJECTION not in entity_cypher
    with pytest.raises(GraphStoreError, match="plain identifier"):
        store.upsert_entities([Entity("Person`) DETACH DELETE (n", "x")])
    assert len(driver.runs) == 2


def test_neo4j_schema_counts_and_credentials(monkeypatch):
    driver = FakeNeo4jDriver({
        "UNWIND keys(n)": [{"label": "Person", "key": "name", "kind": "STRING NOT NULL"}],
        "type(r)": [{"from_label": "Person", "rel_type": "ACTED_IN", "to_label": "Movie", "keys": [["source"], []]}],
        "count(n)": [{"c": 3}], "count(r)": [{"c": 2}],
    })
    store = Neo4jGraphStore("bolt://neo4j:secret@127.0.0.1:7687", driver=driver)
    assert store._auth == ("neo4j", "secret") and store.url == "bolt://127.0.0.1:7687" and store.database is None
    schema = store.schema()
    assert schema.nodes == {"Person": {"name": "STRING"}}
    assert schema.describe().endswith("(:Person)-[:ACTED_IN {source}]->(:Movie)")
    assert store.count() == GraphCounts(3, 2)
    monkeypatch.setenv("NEO4J_USERNAME", "env-user")
    monkeypatch.setenv("NEO4J_PASSWORD", "env-pw")
    assert Neo4jGraphStore("neo4j://127.0.0.1", driver=driver)._auth == ("env-user", "env-pw")


@pytest.mark.parametrize("module", ["rag.graph_store", "rag.graph_extraction", "rag.cypher_templates"])
def test_docstring_examples(module):
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
