"""Run-time settings of the lab-assistant graph (LangGraph `context`). Each default comes from an
environment variable when set; a value passed explicitly always wins."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.settings import BaseContext, env


@dataclass(kw_only=True)
class Context(BaseContext):
    """The model settles what the request parser cannot."""

    max_chars: int = field(default_factory=env("HEARTH_LAB_MAX_CHARS", 0, int), metadata={
        "description": "Use only the first N characters of a corpus for training and comparison (0 = the whole "
                       "corpus, unless the request names a size). Env: HEARTH_LAB_MAX_CHARS."})
    wait_seconds: float = field(default_factory=env("HEARTH_LAB_WAIT_SECONDS", 60, float), metadata={
        "description": "How long one turn waits for a background job before answering with its id and progress "
                       "(a later turn, e.g. 'status?', picks it up). Env: HEARTH_LAB_WAIT_SECONDS."})
    poll_seconds: float = field(default_factory=env("HEARTH_LAB_POLL_SECONDS", 2, float), metadata={
        "description": "Seconds between two looks at a running job. Env: HEARTH_LAB_POLL_SECONDS."})
