"""Register exported fine-tunes in MLflow's model registry, move aliases, list what is there.

    python -m training.registry register .hearth/finetune/runs/sql-20261202-1730 --name hearth-sql --alias production
    python -m training.registry promote hearth-sql 2 --alias production      # promotion is an alias move
    python -m training.registry list
    python -m apps.serve --model registry:hearth-sql@production             # serve what the alias points at
    python -m training.registry register .hearth/finetune/reward/rm-20261203-072652 --name hearth-reward --alias production
    python -m evals.judge --judge reward:registry:hearth-reward@production  # a registered reward model as judge

A version records the exported files as tags (`gguf`: the chosen level's file, `hf`: the merged
transformers folder, `level`, `run_folder`, `dataset_sha256`) and the run's metrics plus any
evaluation results passed in; `models.registry` resolves `registry:NAME[@ALIAS]` from them.
A reward-model run (`training.reward_model`, recognised by its preference split and no export)
registers its transformers folder with the tag `kind=reward`: a judge, never served as a chat model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.cli import run_command
from training.export import run_task
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
    tags = {"gguf": str(Path(chosen["path"]).resolve()), "hf": str(Path(export["merged"]).resolve()), "level": level,
            "run_folder": str(run), "dataset_sha256": info.get("dataset_sha256", ""),
            "base": str(info.get("base_folder", "")), "agreement": str(chosen.get("agreement", "")),
            "task": export.get("task") or run_task(info) or ""}
    result = _new_version(name, Path(export["folder"]).resolve(), info, tags, metrics, alias, f"{run.name}, {level}",
                          description or f"Fine-tuned task model ({info['settings'].get('name')}).")
    return {**result, "gguf": tags["gguf"], "hf": tags["hf"], "level": level}


def register_reward_run(run: str | Path, name: str, alias: str | None = None, metrics: dict | None = None,
                        description: str = "") -> dict:
    """Register a reward-model run (`training.reward_model`) as a new version of model `name`: its
    transformers folder, split manifest hash and test figures. It is a judge, not a chat model:
    `evals.judge --judge reward:registry:NAME@ALIAS` uses it; `registry:` chat specs refuse it."""
    run = Path(run).resolve()
    info_file = run / "run.json"
    from training.reward_model import is_reward_weights

    if not info_file.is_file() or not is_reward_weights(run / "model"):
        raise FileNotFoundError(f"{run} is not a finished reward-model run (run.json and model/ with config.json or probe.json): "
                                "train one with `python -m training.reward_model`.")
    info = json.loads(info_file.read_text(encoding="utf-8"))
    tags = {"kind": "reward", "hf": str(run / "model"), "run_folder": str(run),
            "dataset_sha256": info.get("split", {}).get("data_sha256", ""), "base": str(info.get("base_folder", ""))}
    result = _new_version(name, run / "model", info, tags, metrics, alias, run.name,
                          description or "Reward model (scores an answer to a dialogue; higher is preferred).")
    return {**result, "hf": tags["hf"], "kind": "reward"}


def is_reward_run(run: str | Path) -> bool:
    """A reward-model run folder (run.json with a preference split, model/, no export/)."""
    run = Path(run)
    if not (run / "run.json").is_file() or (run / "export" / "export.json").is_file():
        return False
    return "split" in json.loads((run / "run.json").read_text(encoding="utf-8")) and (run / "model").is_dir()


def _new_version(name: str, source: Path, info: dict, tags: dict, metrics: dict | None, alias: str | None,
                 version_description: str, model_description: str) -> dict:
    """A new version of registered model `name` (created when missing) with `tags`, the run's numeric
    metrics and `metrics` as `metric.*` tags, and `alias` pointed at it."""
    from mlflow.exceptions import MlflowException

    client = mlflow_client()
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=model_description)
    tags = dict(tags)
    for key, value in {**info.get("metrics", {}), **(metrics or {})}.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            tags[f"metric.{key}"] = str(value)
    version = client.create_model_version(name, source=str(source), run_id=info.get("mlflow_run_id"), tags=tags,
                                          description=version_description)
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    return {"name": name, "version": version.version, "alias": alias}


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
        if is_reward_run(args.run):
            result = register_reward_run(args.run, args.name, args.alias, metrics)
        else:
            result = register_run(args.run, args.name, args.alias, args.level, metrics)
    elif args.command == "promote":
        result = promote(args.name, args.version, args.alias)
    else:
        result = list_models()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    sys.exit(run_command(main, succeeded=lambda result: result is not None))
