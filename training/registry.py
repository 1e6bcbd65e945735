"""Register exported fine-tunes in MLflow's model registry, move aliases, list what is there.

    python -m training.registry register .hearth/finetune/runs/sql-20261202-1730 --name hearth-sql --alias production
    python -m training.registry promote hearth-sql 2 --alias production      # promotion is an alias move
    python -m training.registry list
    python -m apps.serve --model registry:hearth-sql@production             # serve what the alias points at

A version records the exported files as tags (`gguf`: the chosen level's file, `hf`: the merged
transformers folder, `level`, `run_folder`, `dataset_sha256`) and the run's metrics plus any
evaluation results passed in; `models.registry` resolves `registry:NAME[@ALIAS]` from them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.tracking import mlflow_client


def register_run(run: str | Path, name: str, alias: str | None = None, level: str | None = None,
                 metrics: dict | None = None, description: str = "") -> dict:
    """Register an exported run (see `training.export`) as a new version of model `name`."""
    run = Path(run).resolve()
    export_file = run / "export" / "export.json"
    if not export_file.is_file():
        raise FileNotFoundError(f"{run} has no export (export/export.json). Run `python -m training.export {run}` first.")
    export = json.loads(export_file.read_text(encoding="utf-8"))
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    level = (level or export.get("default_level") or "Q8_0").upper()
    if level not in export["levels"]:
        raise ValueError(f"Level {level} was not exported for {run.name}: exported {', '.join(export['levels'])}.")
    chosen = export["levels"][level]
    if chosen.get("loses_finetune"):
        raise ValueError(f"{level} lost the fine-tune in the export check (agreement {chosen.get('agreement')}); "
                         f"register another level, e.g. --level {export.get('default_level')}.")
    client = mlflow_client()
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=description or f"Fine-tuned task model ({info['settings'].get('name')}).")
    tags = {"gguf": str(Path(chosen["path"]).resolve()), "hf": str(Path(export["merged"]).resolve()), "level": level,
            "run_folder": str(run), "dataset_sha256": info.get("dataset_sha256", ""),
            "base": str(info.get("base_folder", "")), "agreement": str(chosen.get("agreement", ""))}
    for key, value in {**info.get("metrics", {}), **(metrics or {})}.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            tags[f"metric.{key}"] = str(value)
    version = client.create_model_version(name, source=str(Path(export["folder"]).resolve()),
                                          run_id=info.get("mlflow_run_id"), tags=tags,
                                          description=f"{run.name}, {level}")
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    return {"name": name, "version": version.version, "alias": alias, "gguf": tags["gguf"], "hf": tags["hf"], "level": level}


def promote(name: str, version: str | int, alias: str = "production") -> dict:
    """Point `alias` at `version`; every `registry:NAME@ALIAS` spec follows."""
    mlflow_client().set_registered_model_alias(name, alias, str(version))
    return {"name": name, "version": str(version), "alias": alias}


def list_models() -> list[dict]:
    """Every registered model's versions with their aliases, files and metrics."""
    client = mlflow_client()
    out = []
    for model in client.search_registered_models():
        aliases = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        for version in client.search_model_versions(f"name = '{model.name}'"):
            tags = dict(version.tags or {})
            out.append({"name": model.name, "version": version.version, "aliases": aliases.get(str(version.version), []),
                        "level": tags.get("level"), "gguf": tags.get("gguf"), "hf": tags.get("hf"),
                        "metrics": {k[7:]: v for k, v in tags.items() if k.startswith("metric.")}})
    return sorted(out, key=lambda v: (v["name"], -int(v["version"])))


def main(argv: list[str] | None = None) -> object:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    reg = sub.add_parser("register", help="register an exported run")
    reg.add_argument("run")
    reg.add_argument("--name", required=True)
    reg.add_argument("--alias", default=None)
    reg.add_argument("--level", default=None, help="exported level to serve (default: export's default_level)")
    reg.add_argument("--metrics", default=None, help="a JSON file of evaluation results to attach")
    pro = sub.add_parser("promote", help="move an alias to a version")
    pro.add_argument("name")
    pro.add_argument("version")
    pro.add_argument("--alias", default="production")
    sub.add_parser("list", help="registered models and versions")
    args = parser.parse_args(argv)
    if args.command == "register":
        metrics = json.loads(Path(args.metrics).read_text(encoding="utf-8")) if args.metrics else None
        result = register_run(args.run, args.name, args.alias, args.level, metrics)
    elif args.command == "promote":
        result = promote(args.name, args.version, args.alias)
    else:
        result = list_models()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
