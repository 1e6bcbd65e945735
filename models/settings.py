"""Paths and environment-read settings: the bottom of hearth's layers (it imports nothing of hearth).

    from models.settings import PROJECT_ROOT, data_home, env, env_flag
    data_home() / "qdrant"                  # $HEARTH_HOME, else .hearth/ in the project

    @dataclass(kw_only=True)
    class Context:
        top_k: int = field(default_factory=env("HEARTH_TOP_K", 4, int))
        local_commands: bool = field(default_factory=env_flag("HEARTH_LOCAL_COMMANDS", True))

Every graph's `Context` extends `BaseContext`, which holds what they all share (the chat model spec).

A variable is read when a Context is created, not at import, so `langgraph dev` and the apps are
configured without code and a value passed explicitly always wins. Every switch in the project
(environment variables, `?option=` flags in model specs) is read by `parse_flag`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

PROJECT_ROOT = Path(__file__).resolve().parents[1]

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


def data_home() -> Path:
    """Where indexes, checkpoints and sample databases live: $HEARTH_HOME, else .hearth/ in the project."""
    return Path(os.environ.get("HEARTH_HOME") or PROJECT_ROOT / ".hearth")


def shared_data() -> Path:
    """Where the public data sets live (geoquery, xquad, bfcl, ...): $HEARTH_DATA, else ../shared/data
    beside the project."""
    return Path(os.environ.get("HEARTH_DATA") or PROJECT_ROOT.parent / "shared" / "data")


TASK_MODELS = ("sql", "tools", "rag")


def configured_model(task: str | None = None) -> str:
    """The chat model spec the user configured: for a task (sql, tools, rag) $HEARTH_<TASK>_MODEL,
    so a fine-tuned task model serves only its graph; else $HEARTH_MODEL; else 'local' (the bundled
    model). `HEARTH_SQL_MODEL=registry:hearth-sql@production` puts the registered SQL fine-tune
    behind the text-to-SQL graph and leaves every other graph on $HEARTH_MODEL.

    >>> import os; os.environ.pop("HEARTH_MODEL", None); os.environ["HEARTH_SQL_MODEL"] = "gguf:sql.gguf"
    >>> configured_model("sql"), configured_model("rag"), configured_model()
    ('gguf:sql.gguf', 'local', 'local')
    >>> del os.environ["HEARTH_SQL_MODEL"]
    """
    if task is not None:
        if task not in TASK_MODELS:
            raise ValueError(f"unknown task {task!r}: the task models are {', '.join(TASK_MODELS)}")
        specific = os.environ.get(f"HEARTH_{task.upper()}_MODEL", "").strip()
        if specific:
            return specific
    return os.environ.get("HEARTH_MODEL", "local")


def task_model_field(task: str) -> Any:
    """A graph Context's `model` field for a task: its default is `configured_model(task)`."""
    return field(default_factory=lambda: configured_model(task), metadata={
        "description": f"Chat model spec for this graph's {task} steps (local, gguf:PATH, hf:PATH, registry:NAME@ALIAS, "
                       f"ollama:NAME, vllm:NAME@URL, openai:NAME@URL). Env: HEARTH_{task.upper()}_MODEL, else HEARTH_MODEL."})


def parse_flag(value: str, name: str = "value") -> bool:
    """A switch's word as a bool; any other word is an error that names the accepted ones.

    >>> [parse_flag(w) for w in ("1", "Yes", " on", "0", "false", "")]
    [True, True, True, False, False, False]
    """
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{name}={value!r} is not a switch: use 1, true, yes or on to turn it on; 0, false, no, off "
                     "or nothing to turn it off.")


def env(name: str, default: Any, cast: Callable[[Any], Any] = str) -> Callable[[], Any]:
    """A default factory: $name cast with `cast`, else `default` (cast too)."""
    return lambda: cast(os.environ.get(name, default))


def env_flag(name: str, default: bool) -> Callable[[], bool]:
    """A default factory for a switch: $name read by `parse_flag`, else `default`."""
    return lambda: parse_flag(os.environ[name], name) if name in os.environ else default


@dataclass(kw_only=True)
class BaseContext:
    """What every graph's run-time settings (LangGraph `context`) hold; a graph's `Context` extends it."""

    model: str = field(default_factory=configured_model, metadata={
        "description": "Chat model spec: local, gguf:PATH, hf:PATH, ollama:NAME, vllm:NAME@URL, openai:NAME@URL. "
                       "Env: HEARTH_MODEL."})
