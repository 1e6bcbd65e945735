"""The static query encoder distilled from the real bundled MiniLM on the sample handbook: the
knowledge base keeps MiniLM's document vectors and finds the same policies from static query
vectors, much faster per query."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from rag.knowledge_base import SAMPLE_HANDBOOK, KnowledgeBase
from training import query_distill

pytestmark = pytest.mark.slow

QUESTIONS = [json.loads(line) for line in
             (Path(__file__).resolve().parents[2] / "evals" / "data" / "handbook_qa.jsonl").read_text().splitlines()
             if line.strip()]


@pytest.fixture(scope="module")
def student_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("query-encoder")
    config = query_distill.DistillConfig(corpus=str(SAMPLE_HANDBOOK), out=str(out), epochs=6, full_vocabulary=False)
    assert query_distill.distill(config, progress=False) == out
    return out


def _hits(kb: KnowledgeBase, mode: str) -> int:
    return sum(any(Path(h.source).name == q["source"] for h in kb.search(q["question"], k=3, mode=mode))
               for q in QUESTIONS)


def test_static_queries_find_what_minilm_finds_at_a_fraction_of_the_cost(student_folder, tmp_path):
    teacher = KnowledgeBase(collection="teacher", location=str(tmp_path / "a"), query_cache_size=0)
    student = KnowledgeBase(collection="student", location=str(tmp_path / "b"), query_cache_size=0,
                            embeddings=f"local?query_encoder={student_folder}")
    for kb in (teacher, student):
        report = kb.ingest([SAMPLE_HANDBOOK])
        assert not report.errors
    # the documents were embedded by MiniLM in both indexes
    assert student.embeddings.embed_documents(["annual leave"])[0] == pytest.approx(
        teacher.embeddings.embed_documents(["annual leave"])[0], abs=1e-5)

    teacher_dense, student_dense = _hits(teacher, "dense"), _hits(student, "dense")
    student_hybrid = _hits(student, "hybrid")
    print(f"handbook questions found in the top 3: MiniLM dense {teacher_dense}, static dense {student_dense}, "
          f"static hybrid {student_hybrid} of {len(QUESTIONS)}")
    assert student_dense >= teacher_dense - 2, (student_dense, teacher_dense)
    assert student_hybrid >= 0.8 * len(QUESTIONS), student_hybrid

    question = QUESTIONS[0]["question"]
    close = np.dot(student.embeddings.embed_query(question), teacher.embeddings.embed_query(question))
    assert close > 0.5  # guards against a broken vector; the retrieval checks above are the point
    timings = {}
    for name, kb in (("teacher", teacher), ("student", student)):
        started = time.perf_counter()
        for q in QUESTIONS:
            kb.embeddings.embed_query(q["question"])
        timings[name] = time.perf_counter() - started
    assert timings["student"] * 5 < timings["teacher"], timings


def test_the_distil_cli_names_the_fix_for_a_missing_corpus(tmp_path, capsys):
    assert query_distill.main(["--corpus", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "No corpus" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
