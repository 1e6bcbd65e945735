"""Typed LangChain tools the agents call (calculator, RAG search, SQL, home automation, labs)."""
