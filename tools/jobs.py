"""Background jobs: run long lab work (tokenizer training, pretraining) off the caller's thread.

    from tools.jobs import submit, status, wait

    def work(progress, corpus):
        progress(0.5, f"half of {corpus} done")
        return {"ok": True}

    job_id = submit("demo", work, corpus="legal")   # returns at once
    status(job_id)   # {"id", "name", "state": queued|running|done|failed, "progress", "message",
                     #  "result", "error", "started_at", "finished_at", "params"}
    wait(job_id, timeout=60)                        # block until it ends (or the timeout passes)

Jobs run on a small thread pool (`HEARTH_JOB_WORKERS`, default 1: the labs are CPU-bound and
the machine has few cores), so a graph node that submits a job returns immediately and later
turns read the job's status. Jobs live in this process's memory: they end with it.

Bounded: at most `HEARTH_JOB_QUEUE` jobs (default 4) wait at once (`submit` raises JobQueueFull
beyond that), and a job runs at most `HEARTH_JOB_TIME_LIMIT_S` seconds (default 3600): its next
`progress(...)` call after the limit raises JobTimeLimit and the job fails with that message
(a Python thread cannot be killed, so the work itself must report progress, as the labs do).
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable

Progress = Callable[[float, str], None]
STATES = ("queued", "running", "done", "failed")


class JobQueueFull(ValueError):
    """Too many jobs are waiting; the message says how to proceed."""


class JobTimeLimit(TimeoutError):
    """A job ran past its time limit."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class JobRunner:
    """A registry of jobs and the threads that run them."""

    def __init__(self, workers: int | None = None, max_queued: int | None = None, time_limit_s: float | None = None):
        self.workers = workers or int(os.environ.get("HEARTH_JOB_WORKERS", "1"))
        self.max_queued = max_queued or int(os.environ.get("HEARTH_JOB_QUEUE", "4"))
        self.time_limit_s = time_limit_s or float(os.environ.get("HEARTH_JOB_TIME_LIMIT_S", "3600"))
        self._pool: ThreadPoolExecutor | None = None
        self._jobs: dict[str, dict] = {}
        self._done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="hearth-job")
            return self._pool

    def submit(self, name: str, fn: Callable[..., Any], **params) -> str:
        """Queue `fn(progress, **params)`; returns the job id at once."""
        job_id = f"{name}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            waiting = sum(1 for j in self._jobs.values() if j["state"] == "queued")
            if waiting >= self.max_queued:
                raise JobQueueFull(f"{waiting} jobs are already waiting to run (the limit is {self.max_queued}, "
                                   "HEARTH_JOB_QUEUE). Wait until one finishes (job_status) and submit again.")
            self._jobs[job_id] = {"id": job_id, "name": name, "state": "queued", "progress": 0.0, "message": "queued",
                                  "result": None, "error": None, "started_at": None, "finished_at": None,
                                  "params": {k: v for k, v in params.items() if isinstance(v, (str, int, float, bool, type(None)))}}
            self._done[job_id] = threading.Event()
        self._executor().submit(self._run, job_id, fn, params)
        return job_id

    def _update(self, job_id: str, **fields) -> None:
        with self._lock:
            self._jobs[job_id].update(fields)

    def _run(self, job_id: str, fn: Callable, params: dict) -> None:
        self._update(job_id, state="running", message="started", started_at=_now())
        deadline = time.monotonic() + self.time_limit_s

        def progress(fraction: float, message: str = "") -> None:
            if time.monotonic() > deadline:
                raise JobTimeLimit(f"The job ran past its {self.time_limit_s:g} s limit (HEARTH_JOB_TIME_LIMIT_S) "
                                   "and was stopped. Ask for less work (fewer steps, a smaller corpus).")
            self._update(job_id, progress=round(min(1.0, max(0.0, float(fraction))), 4), message=message)

        try:
            result = fn(progress, **params)
        except BaseException as exc:  # noqa: BLE001 - a failed job reports, never kills the worker
            self._update(job_id, state="failed", error=f"{type(exc).__name__}: {exc}", message="failed",
                         traceback=traceback.format_exc(limit=5), finished_at=_now())
        else:
            self._update(job_id, state="done", progress=1.0, message="done", result=result, finished_at=_now())
        finally:
            self._done[job_id].set()

    def status(self, job_id: str) -> dict:
        with self._lock:
            if job_id not in self._jobs:
                known = ", ".join(list(self._jobs)[-5:]) or "none yet"
                raise KeyError(f"No job {job_id!r} in this process (recent jobs: {known}). Jobs are kept in memory: "
                               "a job started by another process or before a restart is not visible here.")
            return dict(self._jobs[job_id])

    def list_jobs(self) -> list[dict]:
        with self._lock:
            return [dict(j) for j in self._jobs.values()]

    def wait(self, job_id: str, timeout: float | None = None) -> dict:
        """Block until the job is done or failed (or `timeout` seconds pass); returns its status."""
        self.status(job_id)  # raises for an unknown id
        self._done[job_id].wait(timeout)
        return self.status(job_id)

    def wait_all(self, timeout: float | None = None) -> list[dict]:
        deadline = None if timeout is None else time.monotonic() + timeout
        for job_id in list(self._done):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._done[job_id].wait(left)
        return self.list_jobs()


RUNNER = JobRunner()


def submit(name: str, fn: Callable[..., Any], **params) -> str:
    return RUNNER.submit(name, fn, **params)


def status(job_id: str) -> dict:
    return RUNNER.status(job_id)


def list_jobs() -> list[dict]:
    return RUNNER.list_jobs()


def wait(job_id: str, timeout: float | None = None) -> dict:
    return RUNNER.wait(job_id, timeout)
