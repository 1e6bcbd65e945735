"""The layer order of ARCHITECTURE.md holds: imports point down, graph folders hold only wiring.

    .venv/bin/lint-imports            # the same check by hand (contracts in pyproject.toml)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GRAPH_FILES = {"__init__.py", "graph.py", "state.py", "context.py", "prompts.py"}


def test_imports_point_down_the_layers():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint_imports), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, "an import breaks the layer order (fix the import, not the contract):\n" + run.stdout[-6000:]
    assert "Contracts: 2 kept, 0 broken." in run.stdout


def test_graph_folders_hold_only_graph_state_context_prompts():
    extra = sorted(str(p.relative_to(ROOT)) for folder in (ROOT / "graphs").iterdir() if folder.is_dir()
                   for p in folder.glob("*.py") if p.name not in GRAPH_FILES)
    assert extra == [], "parts belong in the layer below the graphs (tools/, rag/, agents/): " + ", ".join(extra)


def test_every_graph_context_extends_the_base_context():
    import importlib

    from models.settings import BaseContext

    names = sorted(p.parent.name for p in (ROOT / "graphs").glob("*/context.py"))
    assert len(names) >= 11
    for name in names:
        context = importlib.import_module(f"graphs.{name}.context").Context
        assert issubclass(context, BaseContext), name
        if "model" in vars(context).get("__annotations__", {}):  # only as a task model (HEARTH_<TASK>_MODEL)
            factory = context.__dataclass_fields__["model"].default_factory
            assert factory.__qualname__.startswith("task_model_field"), f"graphs/{name}/context.py redefines model"


def test_a_switch_with_an_unknown_word_names_the_variable_and_the_words(monkeypatch):
    from models.settings import env_flag

    monkeypatch.setenv("HEARTH_FEEDBACK", "off")
    assert env_flag("HEARTH_FEEDBACK", True)() is False
    monkeypatch.setenv("HEARTH_FEEDBACK", "maybe")
    with pytest.raises(ValueError, match="HEARTH_FEEDBACK='maybe'.*1, true, yes or on"):
        env_flag("HEARTH_FEEDBACK", True)()
