"""Run-time settings of the reasoning graph (LangGraph `context`); defaults come from environment
variables so `langgraph dev` and `evals.reasoning` are configured without code."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.settings import BaseContext, env

MODES = ("direct", "cot")



@dataclass(kw_only=True)
class Context(BaseContext):
    mode: str = field(default_factory=env("HEARTH_REASONING_MODE", "cot"), metadata={
        "description": "cot: the model writes its reasoning, then the answer (one constrained JSON object); "
                       "direct: only the answer. Env: HEARTH_REASONING_MODE."})
    reasoning_chars: int = field(default_factory=env("HEARTH_REASONING_CHARS", 400, int), metadata={
        "description": "Longest reasoning the model may write in cot mode (the grammar stops it there). "
                       "Env: HEARTH_REASONING_CHARS."})

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"Unknown reasoning mode {self.mode!r}: use one of {', '.join(MODES)} "
                             "(Context(mode=...) or HEARTH_REASONING_MODE).")
