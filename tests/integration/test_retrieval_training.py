"""Training the retrieval models for a few steps on a tiny fixture, with the real bundled MiniLM,
the real first stage (BM25 + dense in Qdrant local mode) and a real MLflow store."""

import json

import pytest

pytestmark = pytest.mark.slow

DOCS = {
    "1": "Full-time employees get 25 days of paid annual leave each year.",
    "2": "Report security incidents to the IT desk within one hour.",
    "3": "Trains are booked for business trips under four hours.",
    "4": "Laptops must use full-disk encryption and a screen lock.",
    "5": "Unused leave days carry over until the end of March.",
    "6": "Expense claims need a receipt and the manager's approval.",
}
QUERIES = {"q1": "how much annual leave", "q2": "laptop disk encryption", "q3": "train or plane for trips",
           "q4": "leave carry over", "q5": "how to report an incident", "q6": "expense receipts"}
QRELS = {"q1": {"1": 2, "5": 1}, "q2": {"4": 2}, "q3": {"3": 2}, "q4": {"5": 2, "1": 1}, "q5": {"2": 2}, "q6": {"6": 2}}


def tiny_beir(tmp_path):
    data = tmp_path / "beir"
    (data / "qrels").mkdir(parents=True)
    (data / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in DOCS.items()))
    (data / "queries.dev.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in QUERIES.items()))
    (data / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t{g}\n" for q, judged in QRELS.items() for d, g in judged.items()))
    return data


def test_reranker_trains_saves_and_serves_through_the_reranker_protocol(tmp_path):
    import mlflow

    from rag.rerank import load_reranker
    from rag.store import ScoredChunk
    from training.reranker import RerankerConfig, train_reranker

    folder = train_reranker(RerankerConfig(data=str(tiny_beir(tmp_path)), out=str(tmp_path / "reranker"), max_steps=3,
                                           negatives_mined=2, threads=1, mlruns=str(tmp_path / "mlruns")), show_bar=False)
    meta = json.loads((folder / "reranker.json").read_text())
    assert meta["steps"] == 3 and meta["stopped_by"] == "max steps" and len(meta["losses"]) == 3
    assert meta["trained_query_ids"] == sorted(QUERIES)
    assert (folder / "loss.png").read_bytes()[:4] == b"\x89PNG"

    reranker = load_reranker(f"cross-encoder:{folder}")
    hits = [ScoredChunk(text=DOCS[d], source=d, chunk_index=0, score=0.0) for d in DOCS]
    ranked = reranker.rerank("annual leave days", hits, k=3)
    assert len(ranked) == 3 and ranked[0].score >= ranked[-1].score

    mlflow.set_tracking_uri(f"sqlite:///{(tmp_path / 'mlruns').resolve() / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["hearth-reranker"])
    assert len(runs) == 1 and runs["metrics.steps"].iloc[0] == 3
    assert runs["params.data_fingerprint"].iloc[0] == meta["data_fingerprint"]


def test_fusion_ranker_trains_and_serves_through_the_knowledge_base(tmp_path):
    import mlflow

    from rag.knowledge_base import KnowledgeBase
    from rag.store import ScoredChunk
    from training.fusion_ranker import C_GRID, FusionConfig, main, train_fusion

    folder = train_fusion(FusionConfig(data=str(tiny_beir(tmp_path)), out=str(tmp_path / "fusion"), inner_folds=2,
                                       mlruns=str(tmp_path / "mlruns")), show_bar=False)
    record = json.loads((folder / "fusion.json").read_text())
    assert record["trained_query_ids"] == sorted(QUERIES) and record["c"] in C_GRID
    assert len(record["neighbours"]["vectors"]) == len(QUERIES) and len(record["weights"]) == len(record["features"])
    assert (folder / "weights.png").read_bytes()[:4] == b"\x89PNG"
    mlflow.set_tracking_uri(f"sqlite:///{(tmp_path / 'mlruns').resolve() / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["hearth-fusion-ranker"])
    assert len(runs) == 1 and runs["params.data_fingerprint"].iloc[0] == record["data_fingerprint"]

    kb = KnowledgeBase(collection="fusion", location=":memory:")
    kb.store.upsert_chunks([ScoredChunk(text=t, source=d, chunk_index=0, score=0.0) for d, t in DOCS.items()],
                           kb.embeddings.embed_documents(list(DOCS.values())))
    hits = kb.search("how much annual leave", k=3, mode="hybrid", feedback=True, rerank=f"fusion:{folder}", candidates=6)
    assert hits[0].source == "1" and 0.0 < hits[-1].score <= hits[0].score < 1.0

    assert main(["--data", str(tmp_path / "missing")]) == 2

    # the ranker trained on one collection, measured on two it never saw (the handbook and a PubMedQA file)
    from evals import retrieval_domains

    pubmed = tmp_path / "pubmed"
    pubmed.mkdir()
    (pubmed / "ori_pqal.json").write_text(json.dumps({
        "1": {"QUESTION": "Do statins lower the risk of dementia?", "CONTEXTS": [
            "Statin users had fewer dementia diagnoses over ten years of follow-up.", "Cohort of 4,000 adults."],
            "YEAR": "2010", "final_decision": "yes"},
        "2": {"QUESTION": "Does coffee raise blood pressure in adults?", "CONTEXTS": [
            "Caffeine intake raised systolic pressure briefly in the adults we measured."],
            "YEAR": "2012", "final_decision": "maybe"}}))
    out = tmp_path / "domains"
    assert retrieval_domains.main(["--reranker", f"fusion:{folder}", "--pubmed", str(pubmed), "--out", str(out)]) == 0
    results = json.loads((out / "retrieval_domains.json").read_text())["results"]
    assert results["handbook"][retrieval_domains.UNTRAINED]["hit@k"] >= 0.9
    assert len(results["handbook"][f"+ fusion:{folder}"]["items"]) == len(retrieval_domains.handbook_questions())
    assert results["pubmedqa"][retrieval_domains.UNTRAINED]["hit@k"] == 1.0
    assert "| pubmedqa | + fusion:" in (out / "retrieval_domains.md").read_text()


def test_finetuned_encoder_refuses_an_index_made_by_another_model_until_reindexed(tmp_path):
    from rag.knowledge_base import EmbeddingModelMismatchError, KnowledgeBase
    from training.embedding_finetune import FinetuneConfig, finetune_embeddings, main

    tuned = finetune_embeddings(FinetuneConfig(data=str(tiny_beir(tmp_path)), out=str(tmp_path / "tuned"), max_steps=2,
                                               batch_size=4, negatives_mined=2, threads=1, mlruns="off"), show_bar=False)
    assert json.loads((tuned / "finetune.json").read_text())["steps"] == 2

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text(DOCS["1"] + " " + DOCS["5"])
    (docs / "it.md").write_text(DOCS["4"])
    index = str(tmp_path / "qdrant")
    KnowledgeBase(collection="kb", location=index).ingest([docs])
    with pytest.raises(EmbeddingModelMismatchError, match=r"indexed with embeddings 'local'.*training.embedding_finetune reindex"):
        KnowledgeBase(collection="kb", location=index, embeddings=f"hf:{tuned}").search("annual leave")

    assert main(["reindex", "--collection", "kb", "--embeddings", f"hf:{tuned}", "--index-dir", index]) == 0
    found = KnowledgeBase(collection="kb", location=index, embeddings=f"hf:{tuned}").search("encrypted laptop disks", k=1)
    assert found[0].source.endswith("it.md")
    with pytest.raises(EmbeddingModelMismatchError, match="re-index it with the new model"):
        KnowledgeBase(collection="kb", location=index).search("annual leave")


def test_retrieval_benchmark_cross_validates_the_trained_rows(tmp_path):
    from evals import retrieval

    out = tmp_path / "out"
    assert retrieval.main(["--data", str(tiny_beir(tmp_path)), "--cv", "2", "--train-minutes", "0.1", "--threads", "1",
                           "--trained", "rerank,fusion", "--skip-llamaindex", "--out", str(out)]) == 0
    result = json.loads((out / "retrieval.json").read_text())
    rows = {r["system"]: r for r in result["rows"]}
    trained = rows[retrieval.TRAINED_RERANK]
    assert trained["queries"] == len(QUERIES) and len(trained["cv"]["folds"]) == 2
    assert set(trained["significance"]) == {retrieval.BEST_PIPELINE}
    assert sorted(q for fold in result["folds"] for q in fold) == sorted(QUERIES)
    for index, fold in enumerate(result["folds"], start=1):  # each fold's models never saw its queries
        for record in ("reranker/reranker.json", "fusion/fusion.json"):
            seen = json.loads((out / "cv" / f"fold{index}" / record).read_text())["trained_query_ids"]
            assert seen and not set(seen) & set(fold)
    assert rows[retrieval.TRAINED_FUSION]["queries"] == len(QUERIES)
    assert "2-fold cross-validation" in (out / "retrieval.md").read_text()


def test_answerability_checker_trains_on_a_squad_slice_and_serves_the_trained_mode(tmp_path, monkeypatch):
    """A few steps on eight XQuAD questions: the folder the trained mode loads, the held-out report on
    articles it never trained on, and a verdict from the real checker in the answerability step."""
    from rag.answerability import check, load_checker
    from rag.store import ScoredChunk
    from training.answerability import AnswerabilityConfig, train_checker

    record = train_checker(AnswerabilityConfig(out=str(tmp_path / "checker"), limit_questions=8, max_steps=2,
                                               negatives_mined=1, threads=1, mlruns="off"), show_bar=False)
    assert not set(record["data"]["train_articles"]) & set(record["data"]["held_out_articles"])
    held = record["held_out"]
    assert held["rows"] > 0 and 0.0 <= held["auc"] <= 1.0
    assert set(held["by_kind"]) == {"same topic, answer removed", "other section"}
    assert json.loads((tmp_path / "checker" / "answerability.json").read_text())["held_out"] == held

    scores = load_checker(tmp_path / "checker").score_pairs([("How many days of leave?", DOCS["1"]),
                                                              ("How many days of leave?", DOCS["4"])])
    assert len(scores) == 2 and all(0.0 < s < 1.0 for s in scores)
    monkeypatch.setenv("HEARTH_ANSWER_CHECKER", str(tmp_path / "checker"))
    chunks = [ScoredChunk(text=DOCS["1"], source="leave.md", chunk_index=0, score=0.7, title="Leave")]

    class Collection:  # the vocabulary the rules read: the one document
        def corpus_chunks(self):
            return chunks

    verdict = check("How many days of paid annual leave do full-time employees get?", chunks, Collection(), mode="trained")
    assert verdict.reason in ("", "answer_not_stated")  # decided by the checker's score, which a 2-step model cannot fix
