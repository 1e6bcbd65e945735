"""MLflow for the fine-tuning lifecycle: one local store under the project's data folder.

    python -m training.tracking .hearth/finetune/runs/sql-20261202-1730   # log a finished run (training.sft does it)
    mlflow ui --backend-store-uri sqlite:///.hearth/mlflow/mlflow.db      # browse runs and models

Runs (params, metrics, dataset hashes, artifacts) and the model registry live in
$HEARTH_HOME/mlflow/mlflow.db (SQLite: the registry needs a database store), artifacts in
$HEARTH_HOME/mlflow/artifacts. `MLFLOW_TRACKING_URI` points everything at a tracking server
instead. `models.registry` reads the same store to resolve `registry:NAME@ALIAS` specs.
"""

from __future__ import annotations

import time
from pathlib import Path


def tracking_uri() -> str:
    from models.registry import mlflow_tracking_uri

    return mlflow_tracking_uri()


def artifact_root() -> Path:
    from models.settings import data_home

    return data_home() / "mlflow" / "artifacts"


def store_uri(store: str | Path | None = None) -> str:
    """The tracking URI: the project's store, or `store` (a folder) holding its own mlflow.db."""
    if store is None or str(store) == "":
        return tracking_uri()
    folder = Path(store).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def mlflow_client(store: str | Path | None = None):
    """An MlflowClient on the project's store, or on the store in folder `store` (created on first use)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = store_uri(store)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(name: str, store: str | Path | None = None) -> str:
    """The id of experiment `name`, created with its artifacts beside its store."""
    client = mlflow_client(store)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = (Path(store).resolve() / "artifacts" if store else artifact_root()) / name
    location.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(name, artifact_location=location.resolve().as_uri())


def record_run(run: str | Path, summary: dict) -> dict:
    """Write a finished run's summary to RUN/run.json and log it to MLflow (`track_run`), filling
    `summary["mlflow_run_id"]`; without MLflow installed the run is kept and can be tracked later."""
    import json
    import sys

    run = Path(run)
    (run / "run.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    try:
        summary["mlflow_run_id"] = track_run(run)
    except ImportError as exc:
        print(f"MLflow is not installed ({exc}); track this run later with `python -m training.tracking {run}`.",
              file=sys.stderr)
    return summary


class LiveRun:
    """An MLflow run a training loop logs into as it goes (the mini-GPT lab). Metrics are buffered
    and written at each `flush()`: the loop flushes when it checkpoints, so a run resumed from its
    last checkpoint (`run_id=` the id the checkpoint kept) never holds a step twice.

        run = LiveRun("minigpt", "alice-rope", params={"steps": 300})
        run.log_metric("train_loss", 2.31, step=1); run.flush(); run.finish()
    """

    def __init__(self, experiment: str, run_name: str, params: dict | None = None, run_id: str | None = None,
                 store: str | Path | None = None):
        from mlflow.entities import Param

        self.client = mlflow_client(store)
        self.store_uri = store_uri(store)
        if run_id:
            self.client.update_run(run_id, status="RUNNING")
            self.run_id = run_id
        else:
            created = self.client.create_run(experiment_id(experiment, store), run_name=run_name)
            self.run_id = created.info.run_id
            if params:
                self.client.log_batch(self.run_id, params=[Param(k, str(v)[:500]) for k, v in params.items()])
        self._pending: list = []

    def log_metric(self, key: str, value: float, step: int) -> None:
        from mlflow.entities import Metric

        self._pending.append(Metric(key, float(value), int(time.time() * 1000), int(step)))

    def flush(self) -> None:
        for start in range(0, len(self._pending), 900):
            self.client.log_batch(self.run_id, metrics=self._pending[start:start + 900])
        self._pending = []

    def finish(self, failed: bool = False) -> None:
        self.flush()
        self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")


def track_run(run: str | Path, experiment: str | None = None) -> str:
    """Log a finished `training.sft` run folder to MLflow: its settings as params, the data
    set's SHA-256, every logged loss at its step, the final metrics, and loss.png, run.json, the
    data manifest and (LoRA) the adapter as artifacts. Returns the MLflow run id (also written
    into run.json); a run already tracked keeps its id."""
    import json

    from mlflow.entities import Metric, Param

    run = Path(run)
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    client = mlflow_client()
    settings = info["settings"]
    if info.get("mlflow_run_id"):
        return info["mlflow_run_id"]
    created = client.create_run(experiment_id(experiment or settings.get("experiment", "hearth-sft")), run_name=run.name,
                                tags={"task": settings.get("name", ""), "run_folder": str(run.resolve()),
                                      "dataset_sha256": info.get("dataset_sha256", "")})
    run_id = created.info.run_id
    params = {**{k: v for k, v in settings.items() if k != "extra"}, "dataset_sha256": info.get("dataset_sha256"),
              "dataset_rows": info.get("dataset_rows"), "base_folder": info.get("base_folder")}
    now = int(time.time() * 1000)
    metrics = [Metric(key, float(value), now, int(entry.get("step", 0))) for entry in info.get("log_history", [])
               for key, value in entry.items() if key not in ("step", "epoch") and isinstance(value, (int, float))]
    metrics += [Metric(f"final_{key}", float(value), now, 0) for key, value in info.get("metrics", {}).items()
                if isinstance(value, (int, float)) and not isinstance(value, bool)]
    client.log_batch(run_id, params=[Param(k, str(v)[:500]) for k, v in params.items()])
    for start in range(0, len(metrics), 900):
        client.log_batch(run_id, metrics=metrics[start:start + 900])
    for name in ("loss.png", "run.json"):
        if (run / name).is_file():
            client.log_artifact(run_id, str(run / name))
    from training.task_data import manifest_path

    if settings.get("data") and manifest_path(settings["data"]).is_file():
        client.log_artifact(run_id, str(manifest_path(settings["data"])))
    if (run / "adapter").is_dir():
        client.log_artifacts(run_id, str(run / "adapter"), artifact_path="adapter")
    client.set_terminated(run_id)
    info["mlflow_run_id"] = run_id
    (run / "run.json").write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    return run_id


if __name__ == "__main__":
    import sys

    for folder in sys.argv[1:]:
        print(folder, track_run(folder))
