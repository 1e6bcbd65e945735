"""Experiment tracking in MLflow's file-store layout, without MLflow installed.

    tracker = FileStoreTracker("mlruns", experiment="minigpt")
    run = tracker.start_run(run_name="rope-d64", params={"lr": 3e-3})
    run.log_metric("train_loss", 2.31, step=10)
    run.finish()
    # later: `mlflow ui --backend-store-uri mlruns` shows the experiment and its curves

Layout (as MLflow's FileStore writes it):

    mlruns/<experiment_id>/meta.yaml                 experiment: name, id, lifecycle_stage, ...
    mlruns/<experiment_id>/<run_id>/meta.yaml        run: run_id, status, start_time, end_time, ...
    mlruns/<experiment_id>/<run_id>/metrics/<name>   one line per value: "<timestamp_ms> <value> <step>"
    mlruns/<experiment_id>/<run_id>/params/<name>    the value as text
    mlruns/<experiment_id>/<run_id>/tags/<name>      e.g. mlflow.runName
"""

from __future__ import annotations

import getpass
import time
import uuid
from pathlib import Path

RUNNING, FINISHED, FAILED = 1, 3, 4   # MLflow's RunStatus numbers
SOURCE_LOCAL = 4


def _now_ms() -> int:
    return int(time.time() * 1000)


def _yaml(fields: dict) -> str:
    def value(v):
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        if v is None:
            return "null"
        if isinstance(v, list):
            return "[]"
        return str(v)
    return "".join(f"{k}: {value(v)}\n" for k, v in fields.items())


def _read_yaml_field(path: Path, name: str) -> str | None:
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, rest = line.partition(": ")
        if key == name:
            return rest.strip().strip("'")
    return None


class TrackedRun:
    def __init__(self, folder: Path, fields: dict):
        self.folder, self.fields = folder, fields
        self.run_id = fields["run_id"]

    def _write_meta(self) -> None:
        (self.folder / "meta.yaml").write_text(_yaml(self.fields), encoding="utf-8")

    def log_params(self, params: dict) -> None:
        for name, v in params.items():
            (self.folder / "params" / name).write_text(str(v), encoding="utf-8")

    def log_metric(self, name: str, value: float, step: int) -> None:
        with open(self.folder / "metrics" / name, "a", encoding="utf-8") as fh:
            fh.write(f"{_now_ms()} {float(value)} {int(step)}\n")

    def read_metric(self, name: str) -> list[tuple[int, float]]:
        """(step, value) pairs logged so far."""
        path = self.folder / "metrics" / name
        if not path.exists():
            return []
        rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [(int(r[2]), float(r[1])) for r in rows]

    def truncate_metrics_after(self, step: int) -> None:
        """Drop values logged after `step` (a resumed run re-logs them from its checkpoint)."""
        for path in (self.folder / "metrics").iterdir():
            keep = [line for line in path.read_text(encoding="utf-8").splitlines() if line and int(line.split()[2]) <= step]
            path.write_text("".join(line + "\n" for line in keep), encoding="utf-8")

    def finish(self, failed: bool = False) -> None:
        self.fields.update(status=FAILED if failed else FINISHED, end_time=_now_ms())
        self._write_meta()


class FileStoreTracker:
    def __init__(self, root: str | Path = "mlruns", experiment: str = "minigpt"):
        self.root = Path(root).resolve()
        self.experiment_id = self._experiment_id(experiment)

    def _experiment_id(self, name: str) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        for meta in self.root.glob("*/meta.yaml"):
            if _read_yaml_field(meta, "name") == name:
                return meta.parent.name
        ids = [int(p.name) for p in self.root.iterdir() if p.is_dir() and p.name.isdigit()]
        experiment_id = str(max(ids, default=0) + 1)
        folder = self.root / experiment_id
        folder.mkdir()
        now = _now_ms()
        (folder / "meta.yaml").write_text(_yaml({
            "artifact_location": (folder.as_uri()), "creation_time": now, "experiment_id": experiment_id,
            "last_update_time": now, "lifecycle_stage": "active", "name": name}), encoding="utf-8")
        return experiment_id

    def start_run(self, run_name: str, params: dict | None = None, run_id: str | None = None) -> TrackedRun:
        """A new run, or the run `run_id` reopened (status back to RUNNING) when resuming."""
        run_id = run_id or uuid.uuid4().hex
        folder = self.root / self.experiment_id / run_id
        for sub in ("metrics", "params", "tags", "artifacts"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        fields = {"artifact_uri": (folder / "artifacts").as_uri(), "end_time": None, "entry_point_name": "",
                  "experiment_id": self.experiment_id, "lifecycle_stage": "active", "run_id": run_id,
                  "run_name": run_name, "run_uuid": run_id, "source_name": "", "source_type": SOURCE_LOCAL,
                  "source_version": "", "start_time": _now_ms(), "status": RUNNING, "tags": [],
                  "user_id": _user()}
        if (folder / "meta.yaml").exists():
            fields["start_time"] = int(_read_yaml_field(folder / "meta.yaml", "start_time") or fields["start_time"])
        run = TrackedRun(folder, fields)
        run._write_meta()
        (folder / "tags" / "mlflow.runName").write_text(run_name, encoding="utf-8")
        if params:
            run.log_params(params)
        return run


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"
