"""Retrieval-augmented chat with numbered citations: `graphs/rag/graph.py`."""
