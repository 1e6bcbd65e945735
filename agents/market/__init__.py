"""Market analysts: a data-source interface with offline sample data, the analysts' tools, and
the same team built twice (a LangGraph supervisor graph in graphs/analysts, an AutoGen team here)."""
