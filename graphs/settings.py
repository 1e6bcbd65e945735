"""Defaults read from environment variables, for the graphs' `Context` dataclasses.

    @dataclass(kw_only=True)
    class Context:
        model: str = field(default_factory=env("HEARTH_MODEL", "local"))
        top_k: int = field(default_factory=env("HEARTH_TOP_K", 4, int))
        local_commands: bool = field(default_factory=env_flag("HEARTH_LOCAL_COMMANDS", True))

The variable is read when a Context is created, not at import, so `langgraph dev` and the apps
are configured without code and a value passed explicitly always wins.
"""

from __future__ import annotations

import os
from typing import Any, Callable

FALSE_WORDS = ("0", "false", "no", "off", "")


def env(name: str, default: Any, cast: Callable[[Any], Any] = str) -> Callable[[], Any]:
    """A default factory: $name cast with `cast`, else `default` (cast too)."""
    return lambda: cast(os.environ.get(name, default))


def env_flag(name: str, default: bool) -> Callable[[], bool]:
    """A default factory for a switch: $name is off when it is 0, false, no, off or empty."""
    return lambda: os.environ[name].strip().lower() not in FALSE_WORDS if name in os.environ else default
