"""A tool that searches a RAG collection and returns the best passages with their sources.

    from tools.knowledge import knowledge_search_tool
    search = knowledge_search_tool("handbook")
    search.invoke({"query": "annual leave carry over"})
"""

from __future__ import annotations

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field


class KnowledgeQuery(BaseModel):
    query: str = Field(description="What to look up, in a few words")


def knowledge_search_tool(collection: str = "handbook", k: int = 3, location: str | None = None,
                          embeddings: str = "local") -> StructuredTool:
    def search(query: str) -> str:
        from rag.answering import open_knowledge_base

        hits = open_knowledge_base(collection, location or "", embeddings).search(query, k=k)
        if not hits:
            return f"Nothing found in '{collection}' for {query!r}."
        return "\n".join(f"[{i}] {h.label}: {' '.join(h.text.split())[:300]}" for i, h in enumerate(hits, 1))

    return StructuredTool.from_function(func=search, name="search_knowledge",
                                        description=(f"Look up facts in the '{collection}' documents"
                                                     + (": company policies on leave, holidays, expenses, travel, security, "
                                                        "remote work, benefits and onboarding." if collection == "handbook" else ".")),
                                        args_schema=KnowledgeQuery)
