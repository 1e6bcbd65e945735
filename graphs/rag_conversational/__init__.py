"""RAG chat that rewrites follow-up questions from the last turns: `graphs/rag_conversational/graph.py`."""
