"""The graph store: entities and relations for graph RAG, in embedded Kùzu (default) or Neo4j.

    store = open_graph_store("")                       # Kùzu file in .hearth/graph/ (or $HEARTH_GRAPH)
    store = open_graph_store(":memory:")               # throwaway Kùzu database
    store = open_graph_store("bolt://neo4j:secret@127.0.0.1:7687")   # a Neo4j server (also neo4j://)
    store.upsert_entities([Entity("Person", "Tom Hardy")])
    store.upsert_relations([Relation("ACTED_IN", "Person", "Tom Hardy", "Movie", "Locke", {"source": "locke.md"})])
    store.schema().describe()        # node labels with properties, relationship types with endpoints
    store.query("MATCH (p:Person {name: $name})-[:ACTED_IN]->(m:Movie) RETURN m.name AS title", {"name": "Tom Hardy"})

`query` only runs read-only Cypher, checked twice: `check_read_only` refuses write clauses,
procedure calls and multiple statements before anything reaches the database, and the database
itself runs the query read-only (a Kùzu `READ ONLY` transaction; a Neo4j `READ_ACCESS` session
with `execute_read`). Values always travel as `$parameters`; labels, relationship types and
property names are never taken from a value and must be plain identifiers.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol, Sequence, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

NEO4J_SCHEMES = ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")
KUZU_FILE_NAME = "graph.kuzu"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class GraphStoreError(RuntimeError):
    """A graph store that cannot be opened or used as asked."""


class UnsafeCypherError(GraphStoreError, ValueError):
    """Cypher that would write, call a procedure or run more than one statement."""


@dataclass(frozen=True)
class Entity:
    """A node: its label, its unique name within the label, and extra properties."""

    label: str
    name: str
    properties: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Relation:
    """A directed relationship between two named nodes, e.g. (Person "Tom Hardy")-[ACTED_IN]->(Movie "Locke")."""

    type: str
    start_label: str
    start_name: str
    end_label: str
    end_name: str
    properties: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class RelationshipType:
    type: str
    start: str
    end: str
    properties: tuple[str, ...] = ()


@dataclass
class GraphSchema:
    """What the graph holds: node labels with their properties, relationship types with their endpoints."""

    nodes: dict[str, dict[str, str]] = field(default_factory=dict)  # label -> {property: type}
    relationships: list[RelationshipType] = field(default_factory=list)

    def has_label(self, label: str) -> bool:
        return label in self.nodes

    def relationship_types(self) -> set[str]:
        return {r.type for r in self.relationships}

    def describe(self) -> str:
        """The schema as a model sees it in a prompt.

        >>> GraphSchema({"Person": {"name": "STRING"}}, [RelationshipType("ACTED_IN", "Person", "Movie", ("source",))]).describe()
        'Nodes:\\n  (:Person {name: STRING})\\nRelationships:\\n  (:Person)-[:ACTED_IN {source}]->(:Movie)'
        """
        lines = ["Nodes:"]
        for label, properties in sorted(self.nodes.items()):
            props = ", ".join(f"{name}: {kind}" for name, kind in properties.items())
            lines.append(f"  (:{label} {{{props}}})")
        lines.append("Relationships:")
        for rel in sorted(self.relationships, key=lambda r: (r.type, r.start, r.end)):
            props = f" {{{', '.join(rel.properties)}}}" if rel.properties else ""
            lines.append(f"  (:{rel.start})-[:{rel.type}{props}]->(:{rel.end})")
        return "\n".join(lines)


class GraphCounts(NamedTuple):
    nodes: int
    relationships: int


@runtime_checkable
class GraphStore(Protocol):
    """One graph of named entities and typed relations. Writes go through the upserts; reads through `query`."""

    location: str

    def upsert_entities(self, entities: Sequence[Entity]) -> None: ...

    def upsert_relations(self, relations: Sequence[Relation]) -> None: ...

    def forget_source(self, source: str) -> None:
        """Remove the relations and nodes whose `source` property is `source` (a re-ingested document)."""

    def schema(self) -> GraphSchema: ...

    def query(self, cypher: str, params: dict | None = None) -> list[dict]: ...

    def count(self) -> GraphCounts: ...

    def clear(self) -> None: ...


# --- Cypher safety -------------------------------------------------------------------------------

WRITE_OR_ADMIN_CLAUSES = (
    "CREATE", "MERGE", "DELETE", "DETACH", "SET", "REMOVE", "DROP", "ALTER", "LOAD", "COPY", "CALL",
    "FOREACH", "INSTALL", "ATTACH", "IMPORT", "EXPORT", "USE", "BEGIN", "COMMIT", "ROLLBACK", "CHECKPOINT",
    "TRUNCATE", "GRANT", "DENY", "REVOKE", "TERMINATE",
)
_FORBIDDEN = re.compile(r"(?<![.$\w])(" + "|".join(WRITE_OR_ADMIN_CLAUSES) + r")(?!\w)", re.IGNORECASE)
_LEXEME = re.compile(
    r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`|//[^\n]*|/\*.*?\*/|['"`]""", re.DOTALL)


def _blank_literals(cypher: str) -> tuple[str, int]:
    """Cypher with string literals, quoted identifiers and comments replaced by placeholders.

    >>> _blank_literals("MATCH (n {name: 'a; DELETE'}) RETURN n// DROP")
    ("MATCH (n {name: ''}) RETURN n ", 1)
    """
    literals = 0

    def replace(match: re.Match) -> str:
        nonlocal literals
        text = match.group(0)
        if len(text) == 1:
            raise UnsafeCypherError(f"Unterminated quote {text} in the Cypher query. Pass values as $parameters.")
        if text.startswith(("//", "/*")):
            return " "
        if text.startswith("`"):
            return "`q`"
        literals += 1
        return "''"

    return _LEXEME.sub(replace, cypher), literals


def check_read_only(cypher: str, *, allow_string_literals: bool = True) -> str:
    """Return the query without a trailing semicolon, or raise UnsafeCypherError naming the problem.

    >>> check_read_only("MATCH (m:Movie) RETURN m.name;")
    'MATCH (m:Movie) RETURN m.name'
    >>> check_read_only("MATCH (n) DETACH DELETE n")
    Traceback (most recent call last):
    ...
    rag.graph_store.UnsafeCypherError: Refused: the query contains DETACH, which writes to or administers the graph. ...
    """
    text = (cypher or "").strip()
    if not text:
        raise UnsafeCypherError("Empty Cypher query: write one MATCH ... RETURN statement.")
    blanked, literals = _blank_literals(text)
    blanked = blanked.rstrip().rstrip(";")
    if ";" in blanked:
        raise UnsafeCypherError("Refused: the query holds more than one statement (a ';' separates them). "
                                "Run one read-only MATCH ... RETURN statement.")
    if clause := _FORBIDDEN.search(blanked):
        raise UnsafeCypherError(f"Refused: the query contains {clause.group(1).upper()}, which writes to or administers "
                                "the graph. Only read-only MATCH ... RETURN queries are run.")
    if not re.search(r"(?<![.\w])RETURN(?!\w)", blanked, re.IGNORECASE):
        raise UnsafeCypherError("Refused: the query has no RETURN clause. Write one MATCH ... RETURN statement.")
    if literals and not allow_string_literals:
        raise UnsafeCypherError("Refused: the query writes a value as a string literal. Pass values as $parameters "
                                "(e.g. {name: $person}) so that no text from a question ends up in the query.")
    return text.rstrip().rstrip(";").rstrip()


def _identifier(name: str, what: str) -> str:
    if not IDENTIFIER.match(name or ""):
        raise GraphStoreError(f"{what} {name!r} is not a plain identifier (letters, digits, underscore). "
                              "Labels, relationship types and property names cannot carry other characters.")
    return name


def _grouped(items, key):
    groups: dict = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups.items()


# --- Kùzu ----------------------------------------------------------------------------------------

def _kuzu_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "DOUBLE"
    return "STRING"


def _kuzu_value(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


class KuzuGraphStore:
    """Embedded Kùzu: a database file (or `:memory:`). Tables are created as labels first appear;
    every node table is keyed by `name`."""

    def __init__(self, location: str = ":memory:"):
        import kuzu

        self.location = location
        try:
            if location == ":memory:":  # a small buffer pool: throwaway graphs start 5x faster
                self._database = kuzu.Database(":memory:", buffer_pool_size=256 * 1024 * 1024)
            else:
                self._database = kuzu.Database(location)
        except RuntimeError as exc:
            if "lock" in str(exc).lower():
                raise GraphStoreError(
                    f"The graph database {location} is open in another process (a chat app, `langgraph dev` or "
                    "another ingest). Stop that process, use another --graph-store path, or a Neo4j server "
                    "(bolt://...).") from exc
            raise GraphStoreError(f"Cannot open the Kùzu graph database {location}: {exc}") from exc
        self._connection = kuzu.Connection(self._database)
        self._lock = threading.RLock()
        self._table_kinds: dict[str, str] | None = None  # cached: DDL is rare, upserts are many
        self._table_properties: dict[str, dict[str, str]] = {}

    # reading and writing
    def _execute(self, cypher: str, params: dict | None = None) -> list[dict]:
        result = self._connection.execute(cypher, params or {})
        columns = result.get_column_names()
        rows = []
        while result.has_next():
            rows.append(dict(zip(columns, result.get_next())))
        return rows

    def query(self, cypher: str, params: dict | None = None) -> list[dict]:
        cypher = check_read_only(cypher)
        with self._lock:
            self._connection.execute("BEGIN TRANSACTION READ ONLY")
            try:
                rows = self._execute(cypher, params)
            except RuntimeError as exc:
                self._rollback()
                if "read-only" in str(exc).lower():
                    raise UnsafeCypherError(f"Refused by the database: {exc}") from exc
                raise GraphStoreError(f"The graph query failed: {exc}") from exc
            self._connection.execute("COMMIT")
            return rows

    def _rollback(self) -> None:
        try:
            self._connection.execute("ROLLBACK")
        except RuntimeError:
            pass  # Kùzu already ended the failed transaction

    # schema
    def _tables(self) -> dict[str, str]:
        if self._table_kinds is None:
            self._table_kinds = {row["name"]: row["type"] for row in self._execute("CALL show_tables() RETURN *")}
        return self._table_kinds

    def _properties(self, table: str) -> dict[str, str]:
        if table not in self._table_properties:
            self._table_properties[table] = {row["name"]: row["type"] for row in
                                             self._execute(f"CALL table_info('{_identifier(table, 'Table')}') RETURN *")}
        return self._table_properties[table]

    def _ddl(self, statement: str) -> None:
        self._table_kinds = None
        self._table_properties.clear()
        self._execute(statement)

    def schema(self) -> GraphSchema:
        with self._lock:
            tables = self._tables()
            schema = GraphSchema()
            for name, kind in tables.items():
                if kind == "NODE":
                    schema.nodes[name] = self._properties(name)
            for name, kind in tables.items():
                if kind == "REL":
                    properties = tuple(self._properties(name))
                    for row in self._execute(f"CALL show_connection('{name}') RETURN *"):
                        values = list(row.values())
                        schema.relationships.append(RelationshipType(name, values[0], values[1], properties))
            return schema

    def _ensure_node_table(self, label: str, properties: dict[str, Any]) -> None:
        tables = self._tables()
        if label not in tables:
            columns = "".join(f", {_identifier(k, 'Property')} {_kuzu_type(v)}" for k, v in properties.items())
            self._ddl(f"CREATE NODE TABLE {label}(name STRING PRIMARY KEY{columns})")
            return
        if tables[label] != "NODE":
            raise GraphStoreError(f"{label!r} is already a relationship type; choose another node label.")
        existing = self._properties(label)
        for key, value in properties.items():
            if key not in existing:
                self._ddl(f"ALTER TABLE {label} ADD {_identifier(key, 'Property')} {_kuzu_type(value)}")

    def _ensure_rel_table(self, rel_type: str, start: str, end: str, properties: dict[str, Any]) -> None:
        tables = self._tables()
        if rel_type not in tables:
            columns = "".join(f", {_identifier(k, 'Property')} {_kuzu_type(v)}" for k, v in properties.items())
            self._ddl(f"CREATE REL TABLE {rel_type}(FROM {start} TO {end}{columns})")
            return
        if tables[rel_type] != "REL":
            raise GraphStoreError(f"{rel_type!r} is already a node label; choose another relationship type.")
        pairs = {tuple(list(row.values())[:2]) for row in self._execute(f"CALL show_connection('{rel_type}') RETURN *")}
        if (start, end) not in pairs:
            self._ddl(f"ALTER TABLE {rel_type} ADD FROM {start} TO {end}")
        existing = self._properties(rel_type)
        for key, value in properties.items():
            if key not in existing:
                self._ddl(f"ALTER TABLE {rel_type} ADD {_identifier(key, 'Property')} {_kuzu_type(value)}")

    # upserts
    def upsert_entities(self, entities: Sequence[Entity]) -> None:
        with self._lock:
            for (label, keys), group in _grouped(entities, lambda e: (e.label, tuple(sorted(e.properties)))):
                _identifier(label, "Label")
                sample = {}
                for entity in group:
                    sample.update({k: v for k, v in entity.properties.items() if v is not None})
                self._ensure_node_table(label, {k: sample.get(k, "") for k in keys})
                sets = "".join(f" SET n.{k} = row.p{i}" for i, k in enumerate(keys))
                rows = [{"name": e.name, **{f"p{i}": _kuzu_value(e.properties[k]) for i, k in enumerate(keys)}}
                        for e in group]
                self._execute(f"UNWIND $rows AS row MERGE (n:{label} {{name: row.name}}){sets}", {"rows": rows})

    def upsert_relations(self, relations: Sequence[Relation]) -> None:
        with self._lock:
            self.upsert_entities([Entity(r.start_label, r.start_name) for r in relations]
                                 + [Entity(r.end_label, r.end_name) for r in relations])
            key = lambda r: (r.type, r.start_label, r.end_label, tuple(sorted(r.properties)))  # noqa: E731
            for (rel_type, start, end, keys), group in _grouped(relations, key):
                _identifier(rel_type, "Relationship type")
                self._ensure_rel_table(rel_type, start, end, {k: group[0].properties[k] for k in keys})
                sets = "".join(f" SET r.{k} = row.p{i}" for i, k in enumerate(keys))
                rows = [{"from_name": r.start_name, "to_name": r.end_name,
                         **{f"p{i}": _kuzu_value(r.properties[k]) for i, k in enumerate(keys)}} for r in group]
                self._execute(f"UNWIND $rows AS row MATCH (a:{start} {{name: row.from_name}}), "
                              f"(b:{end} {{name: row.to_name}}) MERGE (a)-[r:{rel_type}]->(b){sets}", {"rows": rows})

    def forget_source(self, source: str) -> None:
        with self._lock:
            schema = self.schema()
            for rel_type in sorted(schema.relationship_types()):
                if "source" in self._properties(rel_type):
                    self._execute(f"MATCH ()-[r:{rel_type}]->() WHERE r.source = $source DELETE r", {"source": source})
            for label, properties in schema.nodes.items():
                if "source" in properties:
                    self._execute(f"MATCH (n:{label}) WHERE n.source = $source DETACH DELETE n", {"source": source})
            for label, properties in schema.nodes.items():  # entities no fact mentions any more
                where = "n.source IS NULL AND " if "source" in properties else ""
                self._execute(f"MATCH (n:{label}) WHERE {where}NOT EXISTS {{ MATCH (n)--() }} DELETE n")

    def count(self) -> GraphCounts:
        with self._lock:
            tables = self._tables()
            nodes = self._execute("MATCH (n) RETURN count(n) AS c")[0]["c"] if "NODE" in tables.values() else 0
            rels = self._execute("MATCH ()-[r]->() RETURN count(r) AS c")[0]["c"] if "REL" in tables.values() else 0
            return GraphCounts(int(nodes), int(rels))

    def clear(self) -> None:
        with self._lock:
            tables = self._tables()
            for kind in ("REL", "NODE"):
                for name, table_kind in tables.items():
                    if table_kind == kind:
                        self._ddl(f"DROP TABLE {name}")


# --- Neo4j ---------------------------------------------------------------------------------------

class Neo4jGraphStore:
    """A Neo4j server through the official driver. Reads run in `READ_ACCESS` sessions with
    `execute_read`; writes (the upserts, `forget_source`, `clear`) with `execute_write`.

    Credentials come from the URL (`bolt://user:password@host:7687/database`) or from
    $NEO4J_USERNAME / $NEO4J_PASSWORD; the driver connects on first use, never at import.
    """

    def __init__(self, location: str, *, driver=None, auth: tuple[str, str] | None = None, database: str | None = None):
        parts = urlsplit(location)
        self.url = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""), "", "", ""))
        self.location = self.url + (parts.path if parts.path not in ("", "/") else "")
        self.database = database or parts.path.strip("/") or os.environ.get("NEO4J_DATABASE") or None
        if auth is None and parts.username:
            auth = (parts.username, parts.password or "")
        if auth is None and os.environ.get("NEO4J_USERNAME"):
            auth = (os.environ["NEO4J_USERNAME"], os.environ.get("NEO4J_PASSWORD", ""))
        self._auth = auth
        self._driver = driver

    @property
    def driver(self):
        if self._driver is None:
            from neo4j import GraphDatabase

            self._driver = GraphDatabase.driver(self.url, auth=self._auth)
        return self._driver

    def _session(self, read: bool):
        # "READ" / "WRITE" are the values of neo4j.READ_ACCESS / neo4j.WRITE_ACCESS (no driver import needed here)
        return self.driver.session(database=self.database, default_access_mode="READ" if read else "WRITE")

    def _read(self, cypher: str, params: dict | None = None) -> list[dict]:
        with self._session(read=True) as session:
            return session.execute_read(lambda tx: [record.data() for record in tx.run(cypher, params or {})])

    def _write(self, cypher: str, params: dict | None = None) -> None:
        with self._session(read=False) as session:
            session.execute_write(lambda tx: tx.run(cypher, params or {}).consume())

    def query(self, cypher: str, params: dict | None = None) -> list[dict]:
        cypher = check_read_only(cypher)
        try:
            return self._read(cypher, params)
        except Exception as exc:  # the driver's errors, e.g. "Writing in read access mode not allowed"
            if type(exc).__module__.startswith("neo4j"):
                raise GraphStoreError(f"The graph query failed on {self.url}: {exc}") from exc
            raise

    def schema(self) -> GraphSchema:
        schema = GraphSchema()
        for row in self._read("MATCH (n) UNWIND labels(n) AS label UNWIND keys(n) AS key "
                              "RETURN DISTINCT label, key, valueType(n[key]) AS kind"):
            schema.nodes.setdefault(row["label"], {})[row["key"]] = str(row["kind"]).split(" ")[0]
        for row in self._read("MATCH (a)-[r]->(b) UNWIND labels(a) AS from_label UNWIND labels(b) AS to_label "
                              "RETURN from_label, type(r) AS rel_type, to_label, collect(DISTINCT keys(r)) AS keys"):
            properties = tuple(sorted({k for keys in row["keys"] for k in keys}))
            schema.relationships.append(RelationshipType(row["rel_type"], row["from_label"], row["to_label"], properties))
        return schema

    def upsert_entities(self, entities: Sequence[Entity]) -> None:
        for label, group in _grouped(entities, lambda e: e.label):
            _identifier(label, "Label")
            for e in group:
                for key in e.properties:
                    _identifier(key, "Property")
            rows = [{"name": e.name, "properties": {k: _kuzu_value(v) for k, v in e.properties.items()}} for e in group]
            self._write(f"UNWIND $rows AS row MERGE (n:{label} {{name: row.name}}) SET n += row.properties", {"rows": rows})

    def upsert_relations(self, relations: Sequence[Relation]) -> None:
        for (rel_type, start, end), group in _grouped(relations, lambda r: (r.type, r.start_label, r.end_label)):
            for name, what in ((rel_type, "Relationship type"), (start, "Label"), (end, "Label")):
                _identifier(name, what)
            for r in group:
                for key in r.properties:
                    _identifier(key, "Property")
            rows = [{"from_name": r.start_name, "to_name": r.end_name,
                     "properties": {k: _kuzu_value(v) for k, v in r.properties.items()}} for r in group]
            self._write(f"UNWIND $rows AS row MERGE (a:{start} {{name: row.from_name}}) "
                        f"MERGE (b:{end} {{name: row.to_name}}) "
                        f"MERGE (a)-[r:{rel_type}]->(b) SET r += row.properties", {"rows": rows})

    def forget_source(self, source: str) -> None:
        self._write("MATCH ()-[r]->() WHERE r.source = $source DELETE r", {"source": source})
        self._write("MATCH (n) WHERE n.source = $source DETACH DELETE n", {"source": source})
        self._write("MATCH (n) WHERE n.source IS NULL AND NOT (n)--() DELETE n")

    def count(self) -> GraphCounts:
        nodes = self._read("MATCH (n) RETURN count(n) AS c")[0]["c"]
        rels = self._read("MATCH ()-[r]->() RETURN count(r) AS c")[0]["c"]
        return GraphCounts(int(nodes), int(rels))

    def clear(self) -> None:
        self._write("MATCH (n) DETACH DELETE n")

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()


# --- choosing a store by location -----------------------------------------------------------------

def default_graph_location() -> str:
    """$HEARTH_GRAPH when set (a folder, a Kùzu file, :memory: or a bolt:// URL), else .hearth/graph/."""
    from models.settings import data_home

    return os.environ.get("HEARTH_GRAPH") or str(data_home() / "graph")


def kuzu_database_path(location: str) -> Path:
    """A folder (existing, or a path without a suffix) holds `graph.kuzu`; a path with a suffix is the file."""
    path = Path(location).expanduser()
    if path.is_dir() or (not path.exists() and not path.suffix):
        path.mkdir(parents=True, exist_ok=True)
        return path / KUZU_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


_stores_lock = threading.Lock()
_stores: dict[str, GraphStore] = {}


def open_graph_store(location: str | None = None) -> GraphStore:
    """The store at `location` (one per location per process): `bolt://` / `neo4j://` URLs open Neo4j,
    `:memory:` a fresh in-memory Kùzu, anything else (or `kuzu:PATH`) a Kùzu database on disk."""
    location = (location or "").strip() or default_graph_location()
    if location.startswith(NEO4J_SCHEMES):
        return Neo4jGraphStore(location)
    if location == ":memory:":
        return KuzuGraphStore(":memory:")
    if "://" in location:
        raise GraphStoreError(f"Unknown graph store URL {location!r}: use bolt:// or neo4j:// for Neo4j, "
                              "or a folder path for the embedded Kùzu database.")
    path = str(kuzu_database_path(location.removeprefix("kuzu:")).resolve())
    with _stores_lock:
        if path not in _stores:
            _stores[path] = KuzuGraphStore(path)
        return _stores[path]


@functools.lru_cache(maxsize=8)
def shared_graph_store(location: str = "") -> GraphStore:
    """One store per location string for the whole process (":memory:" included), so that the
    graph that answers and the step that ingests see the same database."""
    return open_graph_store(location)
