"""`registry:NAME[@ALIAS]` specs: a model registered in MLflow, resolved to its GGUF or HF folder.

    python -m training.registry register RUN_OR_EXPORT --name hearth-sql --alias production
    python -m apps.serve --model registry:hearth-sql@production
    load_chat_model("registry:hearth-sql")            # the newest version

A registered version carries tags `gguf` (path of the GGUF file to serve) and `hf` (the merged
transformers folder). The spec resolves to `gguf:PATH` when that file exists, else `hf:FOLDER`;
`?format=hf` asks for the folder. Options after `?` carry over (`registry:hearth-sql?n_ctx=2048`).
Promoting a model is moving the alias (`python -m training.registry promote ...`): specs follow it
without a code change.

The store is MLflow's SQLite database in $HEARTH_HOME/mlflow (default .hearth/mlflow), or
`MLFLOW_TRACKING_URI`.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from models.settings import data_home
from models.spec import ModelSpec, ModelSpecError


def mlflow_tracking_uri() -> str:
    """$MLFLOW_TRACKING_URI, else sqlite:///$HEARTH_HOME/mlflow/mlflow.db (default .hearth/)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    folder = data_home() / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder.resolve() / 'mlflow.db'}"


def split_registry_name(name: str) -> tuple[str, str | None]:
    """'hearth-sql@production' -> ('hearth-sql', 'production'); 'hearth-sql' -> ('hearth-sql', None).

    >>> split_registry_name("hearth-sql@production")
    ('hearth-sql', 'production')
    """
    model, _, alias = name.partition("@")
    if not model.strip():
        raise ModelSpecError(f"Spec 'registry:{name}' names no model: use 'registry:NAME' or 'registry:NAME@ALIAS'.")
    return model.strip(), (alias.strip() or None)


def registered_version(name: str, alias: str | None = None):
    """The MLflow ModelVersion for NAME@ALIAS (the newest version without an alias)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri = mlflow_tracking_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        if alias:
            return client.get_model_version_by_alias(name, alias)
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException as exc:
        raise ModelSpecError(
            f"No registered model {name!r}{'@' + alias if alias else ''} in {uri} ({exc.message.splitlines()[0]}). "
            f"Register one with `python -m training.registry register RUN --name {name}`"
            + (f" --alias {alias}`" if alias else "`") + ", or list them with `python -m training.registry list`.") from exc
    if not versions:
        raise ModelSpecError(f"Registered model {name!r} has no versions in {uri}. Register one with "
                             f"`python -m training.registry register RUN --name {name}`.")
    return max(versions, key=lambda v: int(v.version))


def resolve_registry_spec(spec: ModelSpec, version=None) -> ModelSpec:
    """A `registry:` spec as the concrete `gguf:` or `hf:` spec of the registered files (`version`: the
    registry entry, when the caller has already looked it up)."""
    name, alias = split_registry_name(spec.name)
    version = version or registered_version(name, alias)
    tags = dict(version.tags or {})
    if tags.get("kind") == "reward":
        raise ModelSpecError(f"Registered model {name!r} is a reward model (a scorer, not a chat model): use it as a "
                             f"judge, `python -m evals.judge --judge reward:registry:{spec.name}`.")
    wanted = spec.options.get("format", "gguf")
    options = {k: v for k, v in spec.options.items() if k != "format"}
    gguf, hf = tags.get("gguf", ""), tags.get("hf", "")
    if wanted != "hf" and gguf and Path(gguf).is_file():
        return ModelSpec(provider="gguf", name=gguf, options=options)
    if hf and (Path(hf) / "config.json").is_file():
        return ModelSpec(provider="hf", name=hf, options=options)
    raise ModelSpecError(
        f"Registered model {name!r} version {version.version} points at files that are gone (gguf={gguf!r}, hf={hf!r}). "
        "Export the run again (`python -m training.export RUN`) and register the new files.")


def model_task(spec: str) -> str | None:
    """What a model spec's fine-tune was trained for ("tool_calls", "sql", "grounded"):
    the registry version's `task` tag, else the export.json beside its GGUF file (a `gguf:` file or a
    `?lora=` adapter that `python -m training.export` wrote); None for any other model (the bundled
    one, a served one, a file with no export record). A `registry:` spec is looked up on every call,
    as `load_chat_model` does, so the task follows an alias that moved while the process runs.

    >>> model_task("local"), model_task("ollama:qwen2.5:7b")
    (None, None)
    """
    from models.spec import parse_model_spec

    parsed = parse_model_spec(spec)
    if parsed.provider == "registry":
        version = registered_version(*split_registry_name(parsed.name))
        if (version.tags or {}).get("task"):
            return version.tags["task"]
        parsed = resolve_registry_spec(parsed, version)
    path = parsed.options.get("lora") or (parsed.name if parsed.provider == "gguf" else "")
    record = Path(path).parent / "export.json" if path else None
    if record is None or not record.is_file():
        return None
    return _recorded_task(str(record), record.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _recorded_task(record: str, mtime_ns: int) -> str | None:
    """The `task` of an export.json, read once per version of the file (`mtime_ns` is the cache key)."""
    try:
        return json.loads(Path(record).read_text(encoding="utf-8")).get("task")
    except (OSError, ValueError):
        return None
