"""What the hybrid RAG graph carries: the RAG graph's state plus how the chunks were found."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.rag.state import InputState, State as RagState

__all__ = ["InputState", "State"]


@dataclass(kw_only=True)
class State(RagState):
    """`retrieval` records the search that produced `retrieved`: mode, reranker, candidates, ms."""

    retrieval: dict = field(default_factory=dict)
