"""Background job runner: states, progress, results, failures, and not blocking the caller."""

from __future__ import annotations

import threading
import time

import pytest

from tools.jobs import JobRunner


def test_job_reports_progress_and_result_without_blocking_the_caller():
    runner = JobRunner(workers=1)
    release = threading.Event()

    def work(progress, n):
        progress(0.25, "a quarter")
        release.wait(5)
        return {"squared": n * n}

    started = time.monotonic()
    job_id = runner.submit("square", work, n=7)
    assert time.monotonic() - started < 0.5                 # submit returns at once
    for _ in range(100):
        if runner.status(job_id)["progress"] == 0.25:
            break
        time.sleep(0.01)
    running = runner.status(job_id)
    assert running["state"] == "running" and running["message"] == "a quarter" and running["started_at"]
    release.set()
    done = runner.wait(job_id, timeout=5)
    assert done["state"] == "done" and done["result"] == {"squared": 49} and done["progress"] == 1.0
    assert done["finished_at"] and done["params"] == {"n": 7}
    assert set(done) >= {"id", "name", "state", "progress", "message", "result", "error", "started_at", "finished_at"}


def test_second_job_is_queued_behind_the_first_and_failures_are_reported():
    runner = JobRunner(workers=1)
    gate = threading.Event()
    first = runner.submit("slow", lambda progress: gate.wait(5))
    second = runner.submit("broken", lambda progress: 1 / 0)
    assert runner.status(second)["state"] == "queued"
    gate.set()
    failed = runner.wait(second, timeout=5)
    assert failed["state"] == "failed" and "ZeroDivisionError" in failed["error"]
    assert runner.status(first)["state"] == "done"
    assert [j["id"] for j in runner.list_jobs()] == [first, second]


def test_unknown_job_id_explains_where_jobs_live():
    with pytest.raises(KeyError, match="kept in memory"):
        JobRunner().status("nope-123")
