"""Graph RAG: film facts in a graph store, answered by templated or validated Cypher: `graphs/rag_graph/graph.py`."""
