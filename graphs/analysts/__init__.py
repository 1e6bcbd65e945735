"""Market analysts as a LangGraph supervisor graph: news collector, sentiment analyst, price analyst, manager."""
