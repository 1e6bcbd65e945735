"""lm-eval on the real bundled model: its direct `hf` backend scores the local PubMedQA task
end to end, and (once apps.serve has /v1/completions with logprobs) the served model gives
lm-eval's `local-completions` client the same log-likelihoods as the `hf` backend."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("lm_eval")

from evals import harness  # noqa: E402

pytestmark = pytest.mark.slow


def test_hf_backend_runs_the_local_pubmedqa_task(tmp_path):
    code = harness.main(["--model", "local", "--backend", "hf", "--tasks", "pubmedqa", "--limit", "2",
                         "--out", str(tmp_path), "--name", "t", "--threads", "1"])
    assert code == 0
    run = json.loads((tmp_path / "t" / "results.json").read_text())
    model_row = next(r for r in run["rows"] if r["system"] == "local")
    assert model_row["backend"] == "hf"
    assert model_row["scores"]["pubmedqa"]["n"] == 2
    assert 0.0 <= model_row["scores"]["pubmedqa"]["metrics"]["acc"] <= 1.0
    assert (tmp_path / "t" / "scores.png").stat().st_size > 1000
    assert (tmp_path / "runs.jsonl").read_text().count("\n") == 1


REQUESTS = [("Question: Is the sky blue on a clear day?\nAnswer:", " yes"),
            ("Question: Is the sky blue on a clear day?\nAnswer:", " no"),
            ("The capital of France is", " Paris"),
            ("The capital of France is", " Berlin")]


def test_served_logprobs_match_the_direct_backend(tmp_path):
    import httpx
    from lm_eval.api.instance import Instance
    from models.spec import parse_model_spec

    spec = parse_model_spec("local")
    with harness.served("local") as base:
        probe = httpx.post(f"{base}/completions", json={"model": "local", "prompt": "Hi", "max_tokens": 1, "logprobs": 1, "echo": True},
                           timeout=120)
        if probe.status_code == 404:
            pytest.skip("apps.serve has no /v1/completions yet (the gateway work adds it)")
        served_lm = harness.completions_model(base, "local", harness.tokenizer_folder(spec, tmp_path), 2048)
        instances = [Instance("loglikelihood", {}, args, i) for i, args in enumerate(REQUESTS)]
        served = [ll for ll, _ in served_lm.loglikelihood(instances)]
    direct_lm = harness.hf_model(spec, threads=1, max_length=2048)
    direct = [ll for ll, _ in direct_lm.loglikelihood(instances)]
    # same weights (Q4_1 on llama.cpp, dequantized to float32 in transformers): same choice, close scores
    assert served[0] > served[1] and direct[0] > direct[1] or served[0] < served[1] and direct[0] < direct[1]
    assert served[2] > served[3] and direct[2] > direct[3]
    assert served == pytest.approx(direct, abs=0.15)


def test_project_benchmarks_run_as_harness_tasks_through_the_served_model(tmp_path):
    """GeoQuery (execution accuracy) and BFCL (AST check) as lm-eval tasks, the bundled model served by
    apps.serve on loopback, each beside its row without a model on the same documents."""
    code = harness.main(["--model", "local", "--tasks", "geoquery,bfcl", "--limit", "2", "--out", str(tmp_path),
                         "--name", "t"])
    assert code == 0
    run = json.loads((tmp_path / "t" / "results.json").read_text())
    rows = {r["system"]: r for r in run["rows"]}
    model = rows["local"]
    assert model["backend"] == "serve"
    assert model["scores"]["geoquery"]["n"] == 2 and model["scores"]["bfcl"]["n"] == 2
    assert 0.0 <= model["scores"]["geoquery"]["metrics"]["exec_acc"] <= 1.0
    assert 0.0 <= model["scores"]["bfcl"]["metrics"]["ast_acc"] <= 1.0
    assert rows["SQL of the most similar train question (no model)"]["scores"]["geoquery"]["n"] == 2
    assert rows["first offered function, no arguments (no model)"]["scores"]["bfcl"]["n"] == 2
