"""Constitutional critique-and-revise: draft, critique against each principle, revise: `graphs/constitutional/graph.py`."""
