"""Prompts of the text-to-SQL graph. Short and concrete: the schema, the linked values and the
examples sit in the user turn right before the question; the SQL itself is decoded under a
grammar on llama.cpp models (see `sql_grammar`), so the prompt never has to teach the format."""

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

# The answer in words is templated: a 135M model restates a table worse than code does.
ANSWER_SINGLE = "The answer is {value}."
ANSWER_ROWS = "Found {count} row{plural}{truncated}: {preview}."
ANSWER_EMPTY = "The query ran but found no matching rows."
ANSWER_FAILED = "I could not write a query that runs on this database after {attempts} attempt{plural}. Last error: {error}"
