"""LangGraph graphs, one folder each (graph.py, state.py, context.py, prompts.py), all listed in langgraph.json."""
