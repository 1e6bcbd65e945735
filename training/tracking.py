"""MLflow for the fine-tuning lifecycle: one local store under the project's data folder.

    mlflow ui --backend-store-uri sqlite:///.hearth/mlflow/mlflow.db      # browse runs and models

Runs (params, metrics, dataset hashes, artifacts) and the model registry live in
$HEARTH_HOME/mlflow/mlflow.db (SQLite: the registry needs a database store), artifacts in
$HEARTH_HOME/mlflow/artifacts. `MLFLOW_TRACKING_URI` points everything at a tracking server
instead. `models.registry` reads the same store to resolve `registry:NAME@ALIAS` specs.
"""

from __future__ import annotations

from pathlib import Path


def tracking_uri() -> str:
    from models.registry import mlflow_tracking_uri

    return mlflow_tracking_uri()


def artifact_root() -> Path:
    from rag.knowledge_base import data_home

    return data_home() / "mlflow" / "artifacts"


def mlflow_client():
    """An MlflowClient on the project's store (created on first use)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_registry_uri(tracking_uri())
    return MlflowClient(tracking_uri=tracking_uri(), registry_uri=tracking_uri())


def experiment_id(name: str) -> str:
    """The id of experiment `name`, created with its artifacts under the project's data folder."""
    client = mlflow_client()
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = artifact_root() / name
    location.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(name, artifact_location=location.resolve().as_uri())
