"""Prompts of the RAG graph. Small models follow short, concrete instructions best."""

SYSTEM_PROMPT = """You are a helpful assistant that answers questions using only the numbered sources below.
Answer in one or two sentences. After each fact, cite its source number in square brackets, like [1].
If the sources do not contain the answer, say you could not find it in the documents.

Sources:
{sources}"""

SOURCE_TEMPLATE = "[{number}] {title}\n{text}"

NO_INDEX_ANSWER = (
    "The knowledge base '{collection}' is empty, so there is nothing to answer from yet. "
    "Add documents first: upload them in the chat app, or run "
    "`python -m apps.ask --ingest PATH --collection {collection}` (the sample handbook is in data/handbook)."
)

NO_MATCH_ANSWER = "I could not find anything about that in the documents of '{collection}'."
