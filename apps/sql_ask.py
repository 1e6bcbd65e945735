"""Ask a SQL database a question from the command line: prints the SQL, the result table and the answer.

    python -m apps.sql_ask "How many customers do we have in each region?"       # sample business DB
    python -m apps.sql_ask "How many orders were placed in March 2024?" --db sqlite:///.hearth/sample_business.sqlite
    python -m apps.sql_ask "How many states border texas?" --db ../shared/data/geoquery/geography.sqlite
    python -m apps.sql_ask "..." --db postgresql://hearth:hearth@127.0.0.1:5432/hearth_test --model ollama:qwen2.5:7b
    python -m apps.sql_ask "..." --json --attempts                               # machine-readable, every attempt

Exit status: 0 answered, 1 no query ran (the attempts say why, or the question names what the database
lacks), 2 bad input (database, model, question).
"""

from __future__ import annotations

import argparse
import json
import sys

import models  # noqa: F401  (offline switches before anything else loads)


def print_answer(result, show_attempts: bool, max_rows: int) -> None:
    if result.sql:
        print(f"SQL:\n{result.sql}\n")
    if result.columns:
        print(result.table(max_rows))
        if result.truncated:
            print("(the result reached the row cap)")
        print()
    if show_attempts or result.error:
        for number, attempt in enumerate(result.attempts, start=1):
            status = "ok" if attempt.get("ok") or not attempt.get("error") else attempt.get("error_kind") or "error"
            print(f"attempt {number} [{status}]: {attempt.get('sql') or '(no SQL)'}")
            if attempt.get("error"):
                print(f"    {attempt['error']}")
        if result.attempts:
            print()
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
    else:
        print(result.answer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.sql_ask", description=__doc__.splitlines()[0])
    parser.add_argument("question")
    parser.add_argument("--db", default=None, metavar="URL",
                        help="SQLite path, sqlite:///PATH, postgresql://... or a SQLAlchemy URL "
                             "(default: the sample business DB)")
    parser.add_argument("--model", default=None, help="chat model spec (default: $HEARTH_MODEL or local)")
    parser.add_argument("--max-attempts", type=int, default=None, help="generate/check rounds (default 3)")
    parser.add_argument("--rows", type=int, default=20, help="rows of the table to print")
    parser.add_argument("--attempts", action="store_true", help="print every attempt's SQL and error")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    args = parser.parse_args(argv)

    from models.spec import ModelSpecError
    from tools.sql.tool import answer_database_question

    options = {"max_attempts": args.max_attempts} if args.max_attempts else {}
    try:
        result = answer_database_question(args.question, args.db, args.model, **options)
    except (ModelSpecError, ValueError) as exc:  # SQLConnectionError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_answer(result, args.attempts, args.rows)
    return 1 if result.error else 0


if __name__ == "__main__":
    sys.exit(main())
