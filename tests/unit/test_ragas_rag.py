"""evals.ragas_rag without models: SQuAD loading, question spreading, the ragas dataset, scores
without a judge on hand-made samples, and how NaNs, timeouts and errors are counted (scripted
fake metrics and a scripted fake judge chat model)."""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, field

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage

from evals import ragas_rag
from rag.store import ScoredChunk


def qa(id_, question, answer, context):
    answers = [{"text": answer, "answer_start": context.find(answer)}] if answer else []
    return {"id": id_, "question": question, "answers": answers}


LISBON = "Lisbon is the capital of Portugal. It lies on the Tagus."
TRAMS = "Trams climb the hills of Alfama."
PORTO = "Porto is famous for port wine."
SQUAD = {"version": "1.1", "data": [
    {"title": "Lisbon", "paragraphs": [
        {"context": LISBON, "qas": [qa("l1", "What is the capital of Portugal?", "Lisbon", LISBON),
                                    qa("l2", "Which river is Lisbon on?", "the Tagus", LISBON)]},
        {"context": TRAMS, "qas": [qa("l3", "What climbs the hills?", "Trams", TRAMS)]}]},
    {"title": "Porto", "paragraphs": [
        {"context": PORTO, "qas": [qa("p1", "What is Porto famous for?", "port wine", PORTO),
                                   qa("p2", "Unanswerable?", "", PORTO)]}]},
]}


@pytest.fixture
def squad_file(tmp_path):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(SQUAD))
    return path


def test_load_xquad_reads_paragraphs_and_answerable_questions(squad_file, tmp_path):
    paragraphs, questions = ragas_rag.load_xquad(squad_file)
    assert [(p.article, p.number) for p in paragraphs] == [("Lisbon", 0), ("Lisbon", 1), ("Porto", 0)]
    assert [q.id for q in questions] == ["l1", "l2", "l3", "p1"]  # p2 has no answer
    assert questions[1].answers == ["the Tagus"] and questions[1].paragraph is paragraphs[0]
    with pytest.raises(FileNotFoundError, match="--data"):
        ragas_rag.load_xquad(tmp_path / "nowhere")


def test_spread_questions_covers_paragraphs_first(squad_file):
    _, questions = ragas_rag.load_xquad(squad_file)
    assert [q.id for q in ragas_rag.spread_questions(questions, 3)] == ["l1", "l3", "p1"]
    assert [q.id for q in ragas_rag.spread_questions(questions, None)] == ["l1", "l3", "p1", "l2"]


def test_paragraphs_become_one_file_each(squad_file, tmp_path):
    paragraphs, _ = ragas_rag.load_xquad(squad_file)
    folder = ragas_rag.write_paragraphs(paragraphs, tmp_path / "docs")
    assert sorted(f.name for f in folder.iterdir()) == ["Lisbon-00.txt", "Lisbon-01.txt", "Porto-00.txt"]
    assert (folder / "Porto-00.txt").read_text() == "Porto is famous for port wine."


def test_response_drops_citation_markers_and_contexts_come_from_citations():
    state = {"messages": [AIMessage(content="Lisbon [1].\n\nSources:\n[1] a.txt",
                                    additional_kwargs={"answer_text": "Lisbon [1]."})],
             "citations": [{"text": "chunk one"}, {"text": "chunk two"}]}
    assert ragas_rag.response_and_contexts(state) == ("Lisbon.", ["chunk one", "chunk two"])
    graph_without_citations = {"messages": [AIMessage(content="Porto [2]")],
                               "retrieved": [ScoredChunk("only chunk", "x", 0, 0.5)]}
    assert ragas_rag.response_and_contexts(graph_without_citations) == ("Porto", ["only chunk"])


def rows():
    context = SQUAD["data"][0]["paragraphs"][0]["context"]
    return [
        {"graph": "rag", "question": "What is the capital of Portugal?", "reference": "Lisbon",
         "reference_context": context, "response": "Lisbon",
         "retrieved_contexts": [context, "Unrelated text about cats."]},
        {"graph": "rag", "question": "Which river is Lisbon on?", "reference": "the Tagus",
         "reference_context": context, "response": "It is on a river.",
         "retrieved_contexts": ["Unrelated text about cats."]},
    ]


def test_dataset_has_one_sample_per_row_with_every_field():
    dataset = ragas_rag.build_dataset(rows())
    first = dataset.samples[0]
    assert len(dataset) == 2
    assert first.user_input == "What is the capital of Portugal?" and first.response == "Lisbon"
    assert first.reference == "Lisbon" and first.reference_contexts == [rows()[0]["reference_context"]]
    assert first.retrieved_contexts[1] == "Unrelated text about cats."


def test_reference_metrics_score_hand_made_samples():
    samples = ragas_rag.build_dataset(rows()).samples
    scores, tallies = ragas_rag.score_samples(samples, ragas_rag.reference_metrics(), timeout=10, progress=False)

    right, wrong = scores
    assert right["exact_match"] == 1.0 and wrong["exact_match"] == 0.0
    assert right["string_present"] == 1.0 and wrong["string_present"] == 0.0
    assert right["non_llm_context_recall"] == 1.0 and wrong["non_llm_context_recall"] == 0.0
    assert right["non_llm_context_precision_with_reference"] == pytest.approx(1.0)  # the gold paragraph ranked first
    assert wrong["non_llm_context_precision_with_reference"] == 0.0
    assert right["rouge_score"] == 1.0 and 0 <= wrong["rouge_score"] < 0.5
    assert all(t.outcomes == {"ok": 2} for t in tallies.values())


# --------------------------------------------------------------------------- failures are counted


def fake_metric_class():
    """A scripted fake ragas metric: each sample's reply says what it does (a number, nan, sleep, raise)."""
    from ragas.metrics.base import MetricType, SingleTurnMetric

    @dataclass
    class ScriptedFakeMetric(SingleTurnMetric):
        name: str = "scripted_fake"
        _required_columns: dict = field(default_factory=lambda: {MetricType.SINGLE_TURN: {"response"}})

        def init(self, run_config) -> None: ...

        async def _single_turn_ascore(self, sample, callbacks) -> float:
            if sample.response == "sleep":
                await asyncio.sleep(5)
            if sample.response == "raise":
                raise KeyError("no verdict")
            return float(sample.response)

    return ScriptedFakeMetric


def test_nan_timeout_and_error_are_counted_not_averaged():
    from ragas import SingleTurnSample

    metric = fake_metric_class()()
    samples = [SingleTurnSample(response=r) for r in ["0.5", "nan", "sleep", "raise", "1.0"]]
    scores, tallies = ragas_rag.score_samples(samples, [metric], timeout=0.05, progress=False)

    tally = tallies["scripted_fake"]
    assert tally.outcomes == {"ok": 2, "nan": 1, "timeout": 1, "error": 1}
    assert tally.error_types == {"KeyError": 1}
    values = [s["scripted_fake"] for s in scores]
    assert values[0] == 0.5 and values[4] == 1.0 and all(math.isnan(v) for v in values[1:4])

    table_rows = [{"graph": "rag", "scripted_fake": v} for v in values] + [{"graph": "rag"}]  # one not scored
    [summary] = ragas_rag.summarize(table_rows, {"rag": tallies}, ["scripted_fake"])
    assert summary["mean"] == pytest.approx(0.75)  # over the two numeric scores only
    counts = tuple(summary[k] for k in ("ok", "nan", "timeout", "error", "not_scored"))
    assert counts == (2, 1, 1, 1, 1)
    table = ragas_rag.markdown_table([summary], "h")
    assert "| rag | scripted_fake | 0.750 | 2 | 1 | 1 | 1 (KeyError×1) | 1 |" in table


def test_judge_that_never_answers_in_json_is_counted_as_failures():
    from langchain_core.embeddings import FakeEmbeddings

    scripted_judge = FakeListChatModel(responses=["I think it is fine."] * 50)
    metrics = ragas_rag.judged_metrics(scripted_judge, FakeEmbeddings(size=8))
    samples = ragas_rag.build_dataset(rows()[:1]).samples
    scores, tallies = ragas_rag.score_samples(samples, metrics, timeout=10, progress=False)

    assert {m.name for m in metrics} == {"faithfulness", "answer_relevancy"}
    for name, tally in tallies.items():
        assert tally.outcomes["ok"] == 0, name  # unparsable verdicts never become a score
        assert tally.outcomes["nan"] + tally.outcomes["error"] == 1, name
        assert math.isnan(scores[0][name])


def test_reports_write_csv_json_markdown_and_plot(tmp_path):
    data = rows()
    for r, value in zip(data, [1.0, float("nan")]):
        r.update({"id": "x", "seconds": 1.0, "error": "", "exact_match": value})
    tally = ragas_rag.MetricTally()
    tally.add("ok")
    tally.add("nan")
    summary = ragas_rag.summarize(data, {"rag": {"exact_match": tally}}, ["exact_match"])
    markdown = ragas_rag.write_reports(data, summary, ["exact_match"], tmp_path, "header", {"limit": 2})

    assert (tmp_path / "ragas_rag.png").read_bytes()[:4] == b"\x89PNG"
    assert "| rag | exact_match | 1.000 | 1 | 1 | 0 | 0 | 0 |" in markdown
    assert json.loads((tmp_path / "ragas_rag.json").read_text())["summary"][0]["nan"] == 1
    csv_text = (tmp_path / "ragas_rag.csv").read_text()
    assert csv_text.splitlines()[0].startswith("graph,id,question,reference,response")
    assert "nan" in csv_text.lower()
