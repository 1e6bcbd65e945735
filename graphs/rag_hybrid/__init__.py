"""Hybrid retrieval (BM25 + dense, fused, reranked) with numbered citations: `graphs/rag_hybrid/graph.py`."""
