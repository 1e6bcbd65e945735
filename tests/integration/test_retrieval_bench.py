"""`python -m evals.retrieval` end to end on a tiny BEIR folder written by the test."""

import json

import pytest

from evals import retrieval

pytestmark = pytest.mark.slow


def tiny_beir(tmp_path):
    data = tmp_path / "beir"
    (data / "qrels").mkdir(parents=True)
    docs = {"1": "Full-time employees get 25 days of paid annual leave.", "2": "Report incidents within one hour.",
            "3": "Trains are booked for trips under four hours.", "4": "Laptops must use full-disk encryption."}
    (data / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in docs.items()))
    (data / "queries.dev.jsonl").write_text(json.dumps({"_id": "q1", "text": "how much annual leave"}) + "\n"
                                            + json.dumps({"_id": "q2", "text": "disk encryption on laptops"}) + "\n")
    (data / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq1\t1\t2\nq2\t4\t1\n")
    return data


def test_retrieval_benchmark_writes_json_and_markdown(tmp_path):
    data = tiny_beir(tmp_path)
    out = tmp_path / "out"
    assert retrieval.main(["--data", str(data), "--split", "dev", "--skip-llamaindex", "--out", str(out)]) == 0
    result = json.loads((out / "retrieval.json").read_text())
    by_system = {r["system"]: r for r in result["rows"]}
    assert by_system["hybrid RRF"]["ndcg@10"] == pytest.approx(1.0)
    assert by_system["best pipeline: hybrid RRF + dense feedback"]["ndcg@10"] == pytest.approx(1.0)
    assert by_system["bm25 (rank_bm25)"]["recall@100"] == pytest.approx(1.0)
    assert all(r["p50_ms"] > 0 and r["build_s"] is not None for r in result["rows"])
    assert result["build"]["documents"] == 4
    markdown = (out / "retrieval.md").read_text()
    assert "| hybrid RRF |" in markdown and "of raw throughput" in markdown
    assert (out / "retrieval.png").read_bytes()[:4] == b"\x89PNG"


def test_static_query_encoder_rows_share_the_index(tmp_path):
    from training.query_distill import DistillConfig, distill

    data = tiny_beir(tmp_path)
    student = distill(DistillConfig(corpus=str(data / "corpus.jsonl"), out=str(tmp_path / "student"), epochs=20,
                                    full_vocabulary=False), progress=False)
    out = tmp_path / "out"
    assert retrieval.main(["--data", str(data), "--split", "dev", "--skip-llamaindex", "--query-encoder", str(student),
                           "--out", str(out)]) == 0
    result = json.loads((out / "retrieval.json").read_text())
    by_system = {r["system"]: r for r in result["rows"]}
    assert by_system["hybrid RRF (static query encoder)"]["ndcg@10"] == pytest.approx(1.0)
    assert by_system["best pipeline, static query encoder"]["recall@100"] == pytest.approx(1.0)
    assert result["build"]["query_encoder_distill_s"] == 0  # reused, not distilled again
    assert "Static query encoder" in (out / "retrieval.md").read_text()
