"""Prompts of the RAG graph. Small models follow short, concrete instructions best, and answer
better when the sources sit in the user turn right before the question (measured with
SmolLM2-135M on handbook questions)."""

SYSTEM_PROMPT = (
    "You are a helpful assistant. Use the facts to answer the question in one short sentence. "
    "Cite the fact number like [1]."
)

# Chosen with `python -m evals.handbook_qa` over six prompt variants: this one answered 7 of 8
# handbook questions with SmolLM2-135M (the others 2-7, and the 8th question wrong in most).
USER_PROMPT = """Facts:
{sources}

Question: {question}
Answer:"""

CHUNK_SOURCE = "[{number}] {title}\n{text}"
EVIDENCE_SOURCE = "[{number}] {sentence}"

NO_INDEX_ANSWER = (
    "The knowledge base '{collection}' is empty, so there is nothing to answer from yet. "
    "Add documents first: upload them in the chat app, or run "
    "`python -m apps.ask --ingest PATH --collection {collection}` (the sample handbook is in data/handbook)."
)

NO_MATCH_ANSWER = "I could not find anything about that in the documents of '{collection}'."
