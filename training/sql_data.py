"""Text-to-SQL fine-tuning data, rendered with the text-to-SQL graph's own prompt.

    python -m training.sql_data --out .hearth/finetune/data/sql.jsonl                 # GeoQuery train + 7 domains
    python -m training.sql_data --database shop.sqlite --out .hearth/finetune/data/shop.jsonl   # your own database

Each question becomes the prompt the graph sends when it asks the model alone (no stored
examples): the linked tables as DDL, the question's cell values, the question; the completion is
the gold SQL. Training on many schemas (GeoQuery's geography plus advising, atis, scholar,
academic, imdb, yelp and restaurants from ../shared/data/text2sql_domains) teaches the model to
read the schema in front of it rather than to memorise one.

- GeoQuery train: values are linked against the real SQLite file, exactly as the graph does.
- The seven domains ship schemas (CSV) but no databases: the question's variables say which
  values it names, and the gold SQL says which column each is compared with, so the value hints
  are built from that pair.
- `synthesize_pairs(database)`: the "fine-tune on your own database" path. From any SQLite file's
  schema, foreign keys and values it writes questions with their SQL (counts, lists, filters,
  aggregates, distinct counts, group-by, top-N and bottom-1, years, months and dates, joins along
  foreign keys, the parent with the most children, parents with none, per-parent sums), each in
  two or three phrasings, and keeps only pairs whose SQL runs and returns rows.

Gold SQL is normalised with sqlglot (identifiers lower case as the DDL shows them, string
literals single-quoted), then by default (`--style grammar`) rewritten the way the graph's SQL
grammar decodes: no table aliases, `JOIN .. ON` instead of comma joins, `!=`. A model trained on
aliased SQL is pushed off what it learned when the grammar forbids the aliases; queries that need
them (self-joins, derived tables) are left out and counted in the manifest (`not_in_grammar`).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from training.cli import run_command
from training.task_data import (data_folder, geoquery_folder, held_out_questions, held_out_sql, normalize_question,
                                write_dataset)

DOMAINS = ("advising", "atis", "scholar", "academic", "imdb", "yelp", "restaurants")
EXCLUDED_SPLITS = {"test", "exclude"}
MAX_CHARS = 1600  # prompt + SQL; about 400 tokens, which keeps a 2-core training step short
MAX_SQL_CHARS = 400  # ATIS's 20-join queries teach little and cost most of a step


@dataclass(frozen=True)
class SchemaColumn:
    """The column shape the graph's schema linker reads (name, type, keys)."""

    name: str
    type: str
    primary_key: bool = False
    references: str | None = None


def _graph_prompt_parts():
    """The text-to-SQL prompt module and schema linker (tools/sql), the same ones the graph uses,
    so training and serving see one prompt."""
    from tools.sql import linking, prompt

    return prompt, linking.link_schema, linking.ValueMatch, linking.ValueIndex


def render_sql_prompt(question: str, schema: dict[str, list], values: list, dialect: str = "sqlite",
                      extra_tables: tuple[str, ...] = ()) -> list[dict]:
    """The system and user messages the graph sends for `question` with no stored examples.

    `schema` maps table -> columns (name, type, primary_key, references); `values` are the
    question's linked cell values (ValueMatch); `extra_tables` are shown even when the question
    does not name them (training rows pass the gold query's tables, so no row asks for a table
    its prompt hides)."""
    prompt, link_schema, _, _ = _graph_prompt_parts()
    linked = link_schema(question, schema, values, extra_tables=tuple(extra_tables))
    return prompt.render_sql_messages(linked.ddl(), question, dialect=dialect, value_hints=linked.value_hints())


def normalize_sql(sql: str, double_quoted_strings: bool = True) -> str:
    """Gold SQL in one style: sqlglot's SQLite rendering with lower-case identifiers. The data
    sets write string literals in double quotes (`double_quoted_strings`); SQL written here quotes
    identifiers that way instead.

    >>> normalize_sql('SELECT CITYalias0.CITY_NAME FROM CITY AS CITYalias0 WHERE CITYalias0.STATE_NAME = "ohio" ;')
    "SELECT city0.city_name FROM city AS city0 WHERE city0.state_name = 'ohio'"
    """
    import sqlglot

    if double_quoted_strings:
        sql = re.sub(r'"([^"]*)"', lambda m: "'" + m.group(1).replace("'", "''") + "'", sql)
    sql = sql.strip().rstrip(";").strip()
    text = sqlglot.transpile(sql, read="sqlite", write="sqlite", normalize=True)[0]
    return re.sub(r"\b([a-z_]+?)alias(\d+)\b", r"\1\2", text)


def grammar_style(sql: str) -> str | None:
    """`sql` rewritten in the style the graph's SQL grammar decodes (tools.sql.grammar), or None
    when it cannot be: tables without aliases (columns `table.column`), comma and CROSS JOINs with
    their linking equality moved into `JOIN .. ON`, `!=` for `<>`, only the grammar's aggregates as
    functions. Self-joins, correlated subqueries and derived tables need aliases and give None.

    >>> grammar_style("SELECT city0.city_name FROM city AS city0 CROSS JOIN state AS state0 "
    ...               "WHERE state0.capital = city0.city_name AND state0.state_name <> 'texas'")
    "SELECT city.city_name FROM city JOIN state ON state.capital = city.city_name WHERE state.state_name != 'texas'"
    """
    import sqlglot
    from sqlglot import exp

    from tools.sql.grammar import AGGREGATES
    from tools.sql.repair import drop_table_aliases

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return None
    if any(isinstance(s.parent, (exp.From, exp.Join)) for s in tree.find_all(exp.Subquery)):
        return None  # a derived table is not in the grammar
    own_tables = {id(select): [t for t in select.find_all(exp.Table) if t.parent_select is select]
                  for select in tree.find_all(exp.Select)}
    for column in tree.find_all(exp.Column):
        scope = column.parent_select
        if scope is None:
            return None
        if column.table and column.table not in {t.alias_or_name for t in own_tables[id(scope)]}:
            return None  # correlated: without aliases it would name the inner table
    drop_table_aliases(tree)
    if tree.find(exp.TableAlias) is not None:
        return None  # a self-join needs its aliases
    for column in tree.find_all(exp.Column):
        if not column.table:
            tables = own_tables[id(column.parent_select)]
            if len(tables) != 1:
                return None
            column.set("table", exp.to_identifier(tables[0].name))
    for select in reversed(list(tree.find_all(exp.Select))):  # innermost first: an outer WHERE is rebuilt from copies
        joins = select.args.get("joins") or []
        if not joins:
            continue
        where = select.args.get("where")
        conditions = list(where.this.flatten()) if where is not None and isinstance(where.this, exp.And) \
            else ([where.this] if where is not None else [])
        if any(j.args.get("side") for j in joins):
            return None  # outer joins are not in the grammar
        seen = {select.args["from_"].this.name}
        waiting = list(joins)
        ordered = []
        while waiting:
            for join in waiting:
                name = join.this.name
                if join.args.get("on") is not None:
                    link = join.args["on"]
                else:
                    link = next((c for c in conditions if isinstance(c, exp.EQ) and isinstance(c.left, exp.Column)
                                 and isinstance(c.right, exp.Column) and name in {c.left.table, c.right.table}
                                 and ({c.left.table, c.right.table} - {name}) & seen), None)
                    if link is None:
                        continue
                    conditions.remove(link)
                ordered.append(exp.Join(this=exp.Table(this=exp.to_identifier(name)), on=link.copy()))
                seen.add(name)
                waiting.remove(join)
                break
            else:
                return None  # a table no equality links to the others
        select.set("joins", ordered)
        select.set("where", exp.Where(this=exp.and_(*[c.copy() for c in conditions])) if conditions else None)
    functions = {type(f).__name__ for f in tree.find_all(exp.Func) if not isinstance(f, exp.Connector)}
    text = tree.sql(dialect="sqlite").replace(" <> ", " != ")
    if not functions <= {a.capitalize() for a in AGGREGATES} or '"' in text:
        return None
    return text


def _row(messages: list[dict], sql: str, source: str, question: str, item_id: str) -> dict:
    return {"prompt": messages, "completion": [{"role": "assistant", "content": sql}], "task": "sql",
            "source": source, "question": question, "id": item_id}


def sqlite_schema(path: str | Path) -> dict[str, list[SchemaColumn]]:
    """table -> columns of a SQLite file, with primary and foreign keys."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        schema = {}
        for table in tables:
            keys = {r[3]: f"{r[2]}.{r[4]}" for r in db.execute(f'PRAGMA foreign_key_list("{table}")')}
            schema[table] = [SchemaColumn(r[1], str(r[2] or "").lower(), bool(r[5]), keys.get(r[1]))
                             for r in db.execute(f'PRAGMA table_info("{table}")')]
    return schema


def _value_index(path: Path):
    """The graph's value index over a SQLite file (text cell values -> table.column)."""
    _, _, _, ValueIndex = _graph_prompt_parts()
    values = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        for table, columns in sqlite_schema(path).items():
            for column in columns:
                if not column.type or any(t in column.type for t in ("char", "text", "clob", "string")):
                    values[(table, column.name)] = [r[0] for r in db.execute(
                        f'SELECT DISTINCT "{column.name}" FROM "{table}" WHERE "{column.name}" IS NOT NULL LIMIT 2000')]
    return ValueIndex(values)


def geoquery_rows(folder: Path | None = None, split: str = "train") -> list[dict]:
    """GeoQuery questions of `split`, linked against geography.sqlite as the graph links them."""
    folder = folder or geoquery_folder()
    path = folder / f"{split}.jsonl"
    database = folder / "geography.sqlite"
    if not path.is_file() or not database.is_file():
        raise FileNotFoundError(f"{path} or {database} is missing. Pass --geoquery pointing at ../shared/data/geoquery.")
    schema, index = sqlite_schema(database), _value_index(database)
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            messages = render_sql_prompt(item["question"], schema, index.match(item["question"]))
            rows.append(_row(messages, normalize_sql(item["query"]), "geoquery", item["question"], item["id"]))
    return rows


def csv_schema(path: Path) -> dict[str, list[SchemaColumn]]:
    """table -> columns from a text2sql_domains `*-schema.csv` (Table, Field, PK, FK, Type)."""
    schema: dict[str, list[SchemaColumn]] = {}
    with open(path, encoding="utf-8") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        next(reader, None)
        for record in reader:
            if len(record) < 5 or record[0].strip() in ("-", ""):
                continue
            table, name, primary, foreign, kind = (field.strip() for field in record[:5])
            schema.setdefault(table.lower(), []).append(
                SchemaColumn(name.lower(), kind.lower(), primary.lower() == "y", "?" if foreign.lower() == "y" else None))
    return schema


def _domain_values(sql: str, variables: dict[str, str]):
    """(table, column, value) for each variable the gold SQL compares a column with."""
    found = []
    for alias_table, column, name in re.findall(r'(\w+?)alias\d+\.(\w+)\s*(?:=|LIKE)\s*"([^"]+)"', sql):
        if name in variables:
            found.append((alias_table.lower(), column.lower(), variables[name]))
    return found


def domain_rows(domain: str, folder: Path | None = None) -> list[dict]:
    """Questions of one text2sql_domains set (not its test or excluded splits), variables filled in."""
    _, _, ValueMatch, _ = _graph_prompt_parts()
    folder = folder or geoquery_folder().parent / "text2sql_domains"
    items = json.loads((folder / f"{domain}.json").read_text(encoding="utf-8"))
    schema = csv_schema(folder / f"{domain}-schema.csv")
    rows = []
    for number, item in enumerate(items):
        sql_template = item["sql"][0]
        defaults = {v["name"]: v["example"] for v in item.get("variables", [])}
        for k, sentence in enumerate(item["sentences"]):
            if sentence.get("question-split") in EXCLUDED_SPLITS:
                continue
            variables = {**defaults, **sentence.get("variables", {})}
            question, sql = sentence["text"], sql_template
            for name in sorted(variables, key=len, reverse=True):
                question = question.replace(name, variables[name])
                sql = sql.replace(f'"{name}"', f'"{variables[name]}"')
                sql = re.sub(rf"\b{re.escape(name)}\b", variables[name], sql)
            question = re.sub(r"\s+([?.,])", r"\1", question).strip()
            matches = [ValueMatch(t, c, v, v, 0) for t, c, v in _domain_values(sql_template, variables) if t in schema]
            try:
                gold = normalize_sql(sql)
            except Exception:  # noqa: BLE001 - a gold query sqlglot cannot read is left out
                continue
            if len(gold) > MAX_SQL_CHARS:
                continue
            tables = tuple(dict.fromkeys(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", gold)))
            rows.append(_row(render_sql_prompt(question, schema, matches, extra_tables=tables), gold, domain, question,
                             f"{domain}-{number}-{k}"))
    return rows


def _row_chars(row: dict) -> int:
    return sum(len(m["content"]) for m in row["prompt"]) + len(row["completion"][0]["content"])


# -- synthetic pairs from any SQLite database ------------------------------------------------------
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def _ident(name: str) -> str:
    """An identifier as the graph's grammar writes it: bare when it can be, double-quoted otherwise."""
    import sqlglot.tokens

    plain = re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name.upper() not in sqlglot.tokens.Tokenizer.KEYWORDS
    return name if plain else '"' + name.replace('"', '""') + '"'


def _label(name: str) -> str:
    return name.replace("_", " ").strip()


def _name_column(columns: list[SchemaColumn]) -> SchemaColumn | None:
    text = [c for c in columns if not c.type or any(t in c.type for t in ("char", "text"))]
    named = [c for c in text if "name" in c.name.lower() or "title" in c.name.lower()]
    return (named or text or [None])[0]


def synthesize_pairs(database: str | Path, per_template: int = 20, seed: int = 0,
                     held_out: Iterable[str] = ()) -> list[dict]:
    """(question, SQL) rows for a SQLite database, written from its schema and values and kept
    only when the SQL runs and returns at least one row, and not the rows any `held_out` SQL (an
    evaluation question's gold query) returns: a synthetic paraphrase of a test question stays out."""
    database = Path(database)
    if not database.is_file():
        raise FileNotFoundError(f"No SQLite file at {database}. Pass --database pointing at a .sqlite/.db file.")
    rng = random.Random(seed)
    schema = sqlite_schema(database)
    index = _value_index(database)
    candidates: list[tuple[str, str]] = []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        def sample(table: str, column: str, k: int) -> list:
            values = [r[0] for r in db.execute(f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL '
                                               f'ORDER BY "{column}" LIMIT 2000')]
            return rng.sample(values, min(k, len(values)))  # seeded: the same database gives the same file

        def add(sql: str, *phrasings: str) -> None:  # every phrasing of one question is a candidate
            candidates.extend((question, sql) for question in phrasings)

        for table, columns in schema.items():
            label, t = _label(table), _ident(table)
            name = _name_column(columns)
            numbers = [c for c in columns if any(k in c.type for k in ("int", "real", "num", "dec", "double", "float"))
                       and not c.primary_key and not c.references]
            texts = [c for c in columns if c is not name and (not c.type or any(k in c.type for k in ("char", "text")))]
            dates = [c for c in columns if "date" in c.name.lower() or "date" in c.type]
            tn = f"{t}.{_ident(name.name)}" if name else ""
            add(f"SELECT COUNT(*) FROM {t}", f"How many {label} rows are there?", f"How many {label} are there in total?",
                f"Count the {label}.")
            if name:
                add(f"SELECT {tn} FROM {t}", f"List all {label}.",
                    f"Show the {_label(name.name)} of every {label[:-1] if label.endswith('s') else label}.")
            for column in numbers:
                col, tc = _label(column.name), f"{t}.{_ident(column.name)}"
                for word, fn in (("average", "AVG"), ("highest", "MAX"), ("lowest", "MIN"), ("total", "SUM")):
                    add(f"SELECT {fn}({tc}) FROM {t}", f"What is the {word} {col} of all {label}?",
                        f"Give me the {word} {col} across {label}.")
                if name:
                    for n in (1, 3, 5):
                        add(f"SELECT {tn} FROM {t} ORDER BY {tc} DESC LIMIT {n}",
                            *((f"Which {n} {label} have the highest {col}?", f"Top {n} {label} by {col}?") if n > 1 else
                              (f"Which {label} has the highest {col}?", f"Name the {label} with the largest {col}.")))
                    add(f"SELECT {tn} FROM {t} ORDER BY {tc} ASC LIMIT 1",
                        f"Which {label} has the lowest {col}?", f"Name the {label} with the smallest {col}.")
            for column in texts:
                col, tc = _label(column.name), f"{t}.{_ident(column.name)}"
                add(f"SELECT {tc}, COUNT(*) FROM {t} GROUP BY {tc}",
                    f"How many {label} are there for each {col}?", f"Break down the number of {label} by {col}.")
                add(f"SELECT COUNT(DISTINCT {tc}) FROM {t}", f"How many different {col} values do {label} have?",
                    f"How many distinct {col}s are there among {label}?")
                for value in sample(table, column.name, 3):
                    quoted = str(value).replace("'", "''")
                    where = f"WHERE {tc} = '{quoted}'"
                    add(f"SELECT COUNT(*) FROM {t} {where}", f"How many {label} have {col} {value}?",
                        f"Count the {label} in {col} {value}.")
                    if name:
                        add(f"SELECT {tn} FROM {t} {where}",
                            f"List the {_label(name.name)} of the {label} whose {col} is {value}.",
                            f"Which {label} have {value} as their {col}?")
                    for number in numbers[:2]:
                        add(f"SELECT AVG({t}.{_ident(number.name)}) FROM {t} {where}",
                            f"What is the average {_label(number.name)} of {label} with {col} {value}?")
            for column in dates:  # half-open ISO ranges, the form the graph's period linking writes
                col, tc = _label(column.name), f"{t}.{_ident(column.name)}"
                seen = [str(v) for v in sample(table, column.name, 5) if re.match(r"\d{4}-\d{2}", str(v))]
                for year in sorted({v[:4] for v in seen}):
                    add(f"SELECT COUNT(*) FROM {t} WHERE {tc} >= '{year}-01-01' AND {tc} < '{int(year) + 1}-01-01'",
                        f"How many {label} have a {col} in {year}?", f"How many {label} were there in {year} by {col}?")
                for month in sorted({v[:7] for v in seen}):
                    y, m = int(month[:4]), int(month[5:7])
                    after = f"{y + m // 12}-{m % 12 + 1:02d}-01"
                    spoken = f"{MONTHS[m - 1]} {y}"
                    add(f"SELECT COUNT(*) FROM {t} WHERE {tc} >= '{month}-01' AND {tc} < '{after}'",
                        f"How many {label} have a {col} in {spoken}?", f"Count the {label} with {col} during {spoken}.")
                for day in seen[:2]:
                    add(f"SELECT COUNT(*) FROM {t} WHERE {tc} > '{day[:10]}'", f"How many {label} have a {col} after {day[:10]}?")
            for column in columns:  # joins along foreign keys
                if not column.references or "." not in column.references:
                    continue
                parent, key = column.references.split(".", 1)
                parent_name = _name_column(schema.get(parent, []))
                if parent not in schema or not parent_name or parent == table:
                    continue
                plabel, p = _label(parent), _ident(parent)
                pn, fk = f"{p}.{_ident(parent_name.name)}", f"{t}.{_ident(column.name)}"
                join = f"FROM {t} JOIN {p} ON {fk} = {p}.{_ident(key)}"
                for value in sample(parent, parent_name.name, 3):
                    quoted = str(value).replace("'", "''")
                    add(f"SELECT COUNT(*) {join} WHERE {pn} = '{quoted}'",
                        f"How many {label} belong to the {plabel} {value}?", f"How many {label} does {value} have?")
                add(f"SELECT {pn}, COUNT(*) {join} GROUP BY {pn}",
                    f"How many {label} are there per {plabel}?", f"Show the number of {label} for every {plabel}.")
                add(f"SELECT {pn} {join} GROUP BY {pn} ORDER BY COUNT(*) DESC LIMIT 1",
                    f"Which {plabel} has the most {label}?", f"Name the {plabel} with the largest number of {label}.")
                add(f"SELECT {pn} FROM {p} WHERE {p}.{_ident(key)} NOT IN (SELECT {fk} FROM {t})",
                    f"Which {plabel} have no {label}?", f"List the {plabel} without any {label}.")
                for number in numbers[:2]:
                    add(f"SELECT {pn}, SUM({t}.{_ident(number.name)}) {join} GROUP BY {pn}",
                        f"What is the total {_label(number.name)} of {label} for each {plabel}?")
        def result(sql: str):
            return sorted(map(repr, db.execute(sql).fetchall()))

        test_results = []
        for sql in held_out:
            try:
                test_results.append(result(sql))
            except sqlite3.Error:
                continue
        kept: list[tuple[str, str]] = []
        for question, sql in candidates:
            try:
                rows = result(sql)
            except sqlite3.Error:
                continue
            if rows and rows not in test_results:
                kept.append((question, sql))
    rng.shuffle(kept)
    rows = []
    for number, (question, sql) in enumerate(kept[: per_template * max(1, len(schema))]):
        messages = render_sql_prompt(question, schema, index.match(question))
        rows.append(_row(messages, sql, f"synthetic:{database.name}", question, f"{database.stem}-{number}"))
    return rows


def build_sql_dataset(out: str | Path, *, geoquery: Path | None | bool = True, domains: tuple[str, ...] = DOMAINS,
                      per_domain: int = 400, database: str | Path | None = None, max_chars: int = MAX_CHARS,
                      seed: int = 0, geoquery_max: int | None = None, per_template: int = 20,
                      style: str = "grammar") -> dict:
    """Write the SQL training set and its manifest; returns the manifest (path, rows, sha256, ...).

    GeoQuery train in full, up to `per_domain` questions of each other domain (shortest kept by
    `max_chars`), and, with `database`, synthetic pairs for that database. Evaluation items
    (GeoQuery dev, home commands) are dropped before the test rule checks the file.

    `style="grammar"` (default) rewrites every gold query with `grammar_style`, so the model learns
    the SQL the graph's grammar lets it write, and leaves out the queries that cannot be written so
    (self-joins, derived tables; counted in the manifest); `style="gold"` keeps the data sets' SQL."""
    if style not in ("grammar", "gold"):
        raise ValueError(f"style must be 'grammar' or 'gold', not {style!r}")
    rng = random.Random(seed)
    rows: list[dict] = []
    if geoquery:
        geo = geoquery_rows(None if geoquery is True else Path(geoquery), "train")
        if geoquery_max is not None:
            rng.shuffle(geo)
        rows += geo[:geoquery_max]
    for domain in domains:
        found = [r for r in domain_rows(domain) if _row_chars(r) <= max_chars]
        rng.shuffle(found)
        rows += found[:per_domain]
    if database:
        rows += synthesize_pairs(database, per_template=per_template, seed=seed, held_out=held_out_sql(database))
    not_in_grammar = 0
    if style == "grammar":
        restyled = []
        for row in rows:
            sql = grammar_style(row["completion"][0]["content"])
            if sql is None:
                not_in_grammar += 1
                continue
            restyled.append({**row, "completion": [{"role": "assistant", "content": sql}]})
        rows = restyled
    held = held_out_questions()
    dropped = [r for r in rows if normalize_question(r["question"]) in held]
    rows = [r for r in rows if normalize_question(r["question"]) not in held and _row_chars(r) <= max_chars]
    rng.shuffle(rows)
    return write_dataset(rows, out, build="training.sql_data", seed=seed, per_domain=per_domain,
                         geoquery_max=geoquery_max, per_template=per_template,
                         domains=list(domains), database=str(database or ""), max_chars=max_chars,
                         dropped_test_items=len(dropped), style=style, not_in_grammar=not_in_grammar)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="JSONL to write (default $HEARTH_HOME/finetune/data/sql.jsonl)")
    parser.add_argument("--geoquery", default=None, help="GeoQuery folder (default $HEARTH_DATA/geoquery); 'none' to skip")
    parser.add_argument("--domains", default=",".join(DOMAINS), help="comma-separated text2sql_domains sets; '' for none")
    parser.add_argument("--per-domain", type=int, default=400, help="questions kept per domain")
    parser.add_argument("--database", default=None, help="a SQLite file: add synthetic pairs verified on it")
    parser.add_argument("--geoquery-max", type=int, default=None, help="keep at most N GeoQuery train questions")
    parser.add_argument("--per-template", type=int, default=20,
                        help="with --database: synthetic pairs per table (default 20)")
    parser.add_argument("--max-chars", type=int, default=MAX_CHARS, help="drop rows longer than this (prompt + SQL)")
    parser.add_argument("--style", choices=("grammar", "gold"), default="grammar",
                        help="grammar: gold SQL rewritten as the graph's SQL grammar decodes it (default); gold: as the data sets write it")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    domains = tuple(d for d in args.domains.split(",") if d.strip())
    unknown = set(domains) - set(DOMAINS)
    if unknown:
        parser.error(f"unknown domain(s) {sorted(unknown)}: use some of {', '.join(DOMAINS)}")
    out = args.out or data_folder() / ("sql.jsonl" if not args.database else f"{Path(args.database).stem}.jsonl")
    info = build_sql_dataset(out, geoquery=True if args.geoquery is None else (False if args.geoquery == "none" else Path(args.geoquery)), domains=domains,
                             per_domain=args.per_domain, database=args.database, max_chars=args.max_chars, seed=args.seed,
                             geoquery_max=args.geoquery_max, per_template=args.per_template, style=args.style)
    print(json.dumps(info, indent=2))
    return info


if __name__ == "__main__":
    sys.exit(run_command(main))
