"""Run-time settings of the constitutional graph (LangGraph `context`); defaults come from
environment variables so `langgraph dev` and scripts are configured without code."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from graphs.constitutional.prompts import DEFAULT_PRINCIPLES
from models.settings import BaseContext, env



def _principles_from_env() -> list[str]:
    """`HEARTH_PRINCIPLES` holds principles separated by ';' (a principle may contain commas)."""
    raw = os.environ.get("HEARTH_PRINCIPLES", "")
    return [p.strip() for p in raw.split(";") if p.strip()] or list(DEFAULT_PRINCIPLES)


@dataclass(kw_only=True)
class Context(BaseContext):
    principles: list[str] = field(default_factory=_principles_from_env, metadata={
        "description": "The principles each draft is critiqued against, one check per principle. "
                       "Env: HEARTH_PRINCIPLES (separated by ';')."})
    max_revisions: int = field(default_factory=env("HEARTH_MAX_REVISIONS", 1, int), metadata={
        "description": "Critique-and-revise rounds at most; after the last revision the answer is final. "
                       "Env: HEARTH_MAX_REVISIONS."})
    critique_chars: int = field(default_factory=env("HEARTH_CRITIQUE_CHARS", 200, int), metadata={
        "description": "Longest critique the model may write (the JSON is grammar-constrained to it). "
                       "Env: HEARTH_CRITIQUE_CHARS."})

    def __post_init__(self):
        if isinstance(self.principles, str):
            self.principles = [p.strip() for p in self.principles.split(";") if p.strip()]
        if not self.principles:
            raise ValueError("Context.principles is empty: give at least one principle (or unset HEARTH_PRINCIPLES "
                             "for the defaults).")
        if self.max_revisions < 0:
            raise ValueError(f"max_revisions must be 0 or more, not {self.max_revisions}.")
