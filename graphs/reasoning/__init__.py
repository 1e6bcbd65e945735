"""Chain-of-thought versus direct answering with constrained answers: `graphs/reasoning/graph.py`."""
