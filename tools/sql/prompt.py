"""The prompt that asks a model for SQL, and reading SQL back out of its reply. The text-to-SQL
graph and the SQL fine-tuning data both render it here, so a model is trained on exactly what
the graph shows it.

    >>> messages = render_sql_messages("CREATE TABLE city (city_name text, population int);",
    ...                                "how many people live in austin", dialect="sqlite",
    ...                                value_hints="city.city_name = 'austin'",
    ...                                examples=[("how many people live in boston",
    ...                                           "SELECT population FROM city WHERE city_name = 'boston'")])
    >>> [m["role"] for m in messages]
    ['system', 'user']
    >>> print(messages[1]["content"].splitlines()[-2])
    Question: how many people live in austin

Short and concrete: the schema, the linked values and the examples sit in the user turn right
before the question; on llama.cpp models the SQL is decoded under a grammar (`tools.sql.grammar`),
so the prompt never has to teach the format.
"""

from __future__ import annotations

import re
from typing import Iterable

SYSTEM_PROMPT = "You write one {dialect} SELECT query that answers the question. Use only the tables and columns given."

USER_PROMPT = """Tables:
{ddl}
{values}{documentation}{examples}
Question: {question}
SQL:"""

VALUES_BLOCK = "\nValues mentioned in the question:\n{hints}\n"
DOCUMENTATION_BLOCK = "\nNotes:\n{notes}\n"
EXAMPLES_BLOCK = "\nExamples:\n{pairs}\n"
EXAMPLE_PAIR = "Question: {question}\nSQL: {sql}"

FEEDBACK_PROMPT = """The previous query was:
{sql}
{feedback}
Write a corrected query.
SQL:"""


def render_sql_messages(ddl: str, question: str, *, dialect: str, value_hints: str = "",
                        documentation: Iterable[str] = (), examples: Iterable[tuple[str, str]] = (),
                        previous_sql: str = "", feedback: str = "") -> list[dict]:
    """Chat messages ({role, content}) asking for the SQL that answers `question`.

    `ddl`: the (linked) tables as CREATE TABLE text; `value_hints`: the question's cell values, one
    'table.column = value' per line; `examples`: (question, sql) pairs, the most similar first (it is
    shown last, next to the question); `previous_sql` + `feedback`: a failed attempt and what was wrong.
    """
    values = VALUES_BLOCK.format(hints=value_hints) if value_hints else ""
    notes = list(documentation)
    notes_block = DOCUMENTATION_BLOCK.format(notes="\n".join(notes)) if notes else ""
    pairs = "\n\n".join(EXAMPLE_PAIR.format(question=q, sql=s) for q, s in reversed(list(examples)))
    examples_block = EXAMPLES_BLOCK.format(pairs=pairs) if pairs else ""
    user = USER_PROMPT.format(ddl=ddl, values=values, documentation=notes_block, examples=examples_block, question=question)
    messages = [{"role": "system", "content": SYSTEM_PROMPT.format(dialect=dialect)}, {"role": "user", "content": user}]
    if previous_sql and feedback:
        messages += [{"role": "assistant", "content": previous_sql},
                     {"role": "user", "content": FEEDBACK_PROMPT.format(sql=previous_sql, feedback=feedback)}]
    return messages


def extract_sql(text: str) -> str:
    """The SQL inside a free-text reply: code fences removed, from the first SELECT/WITH to the
    first semicolon or blank line. `extract_sql("Sure:\\n```sql\\nSELECT 1;\\n```") -> "SELECT 1"`."""
    text = re.sub(r"```(?:sql)?", "\n", text, flags=re.IGNORECASE)
    found = re.search(r"\b(SELECT|WITH)\b", text, flags=re.IGNORECASE)
    if not found:
        return text.strip()
    body = text[found.start():]
    body = re.split(r";|\n\s*\n", body, maxsplit=1)[0]
    return body.strip()
