"""Agentic RAG: sub-questions retrieved in parallel (`Send`), one cited answer: `graphs/rag_agentic/graph.py`."""
