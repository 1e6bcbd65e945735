"""Run-time settings of the conversational RAG graph: those of the `rag` graph (model,
collection, top_k, history_turns, ...) plus how follow-up questions are rewritten. Each default
comes from an environment variable when set; a value passed explicitly always wins."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.rag.context import Context as RagContext
from models.settings import env

REWRITE_CHOICES = ("model", "keywords")


@dataclass(kw_only=True)
class Context(RagContext):
    rewrite_with: str = field(default_factory=env("HEARTH_REWRITE_WITH", "model"), metadata={
        "description": "How a follow-up question becomes a standalone one: 'model' (structured output, checked, "
                       "keywords of the earlier question as the fallback) or 'keywords' (no model call). "
                       "history_turns sets how many earlier turns it may look at. Env: HEARTH_REWRITE_WITH."})

    answer_history_turns: int = field(default_factory=env("HEARTH_ANSWER_HISTORY_TURNS", -1, int), metadata={
        "description": "Earlier turns shown to the model that answers the standalone question (-1 = auto: none for "
                       "the bundled 135M model, which copied its previous answer when shown it; history_turns "
                       "otherwise). Env: HEARTH_ANSWER_HISTORY_TURNS."})

    def answer_history(self) -> int:
        if self.answer_history_turns >= 0:
            return self.answer_history_turns
        return 0 if self.model.split("?")[0] == "local" else self.history_turns

    def __post_init__(self) -> None:
        if parent := getattr(super(), "__post_init__", None):
            parent()
        if self.rewrite_with not in REWRITE_CHOICES:
            raise ValueError(f"rewrite_with={self.rewrite_with!r} is not one of {', '.join(REWRITE_CHOICES)} "
                             "(set it in the context or with HEARTH_REWRITE_WITH).")
