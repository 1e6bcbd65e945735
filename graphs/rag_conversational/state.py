"""What the conversational RAG graph carries between nodes: the `rag` graph's state plus how
the current question was made standalone."""

from __future__ import annotations

from dataclasses import dataclass

from graphs.rag.state import InputState, State as RagState

__all__ = ["InputState", "State"]


@dataclass(kw_only=True)
class State(RagState):
    """`question` holds the standalone question that was searched and answered; `asked` the
    words the user typed; `rewritten_by` says who made it standalone: "unchanged" (it already
    was), "model" (the chat model's rewrite passed the checks) or "keywords" (the follow-up
    prefixed with the topic of the earlier question)."""

    asked: str = ""
    rewritten_by: str = ""
