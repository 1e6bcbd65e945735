"""Agents built from the framework's graphs and tools (ReAct, analysts, lab assistant): see the issues that add them."""
