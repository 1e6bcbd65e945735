"""Prompts of the text-to-SQL graph. The prompt that asks the model for SQL is
`tools.sql.prompt` (`render_sql_messages`), shared with the SQL fine-tuning data so a model is
trained on exactly what the graph shows it; the answer in words is templated here."""

# The answer in words is templated: a 135M model restates a table worse than code does.
ANSWER_SINGLE = "The answer is {value}."
ANSWER_ROWS = "Found {count} row{plural}{truncated}: {preview}."
ANSWER_EMPTY = "The query ran but found no matching rows."
ANSWER_FAILED = "I could not write a query that runs on this database after {attempts} attempt{plural}. Last error: {error}"
ANSWER_NOT_IN_DATABASE = "The database does not hold what the question names, so no query was run: {missing}."
