"""The learned-fusion ranker's features, scoring and model files, on a small in-memory index with
the real bundled MiniLM and BM25 (the weights are written by hand here; training is in
tests/integration/test_retrieval_training.py)."""

import json

import pytest

from rag.learned_fusion import (FEATURES, NEIGHBOUR_FEATURES, CandidateFeatures, FusionModel, LearnedFusionReranker,
                                Neighbours, load_fusion_model, text_key)
from rag.store import ScoredChunk

DOCS = {
    "leave": "Full-time employees get 25 days of paid annual leave each year.",
    "carry": "Unused leave days carry over until the end of March.",
    "laptop": "Laptops must use full-disk encryption and a screen lock.",
    "trains": "Trains are booked for business trips under four hours.",
}


@pytest.fixture(scope="module")
def kb():
    from rag.knowledge_base import KnowledgeBase

    base = KnowledgeBase(collection="fusion-unit", location=":memory:")
    base.store.upsert_chunks([ScoredChunk(text=t, source=d, chunk_index=0, score=0.0) for d, t in DOCS.items()],
                             base.embeddings.embed_documents(list(DOCS.values())))
    return base


def one_feature_model(name: str, weight: float, neighbours: Neighbours | None = None) -> FusionModel:
    names = list(FEATURES) + (list(NEIGHBOUR_FEATURES) if neighbours else [])
    return FusionModel(names, [0.0] * len(names), [1.0] * len(names),
                       [weight if n == name else 0.0 for n in names], 0.0, neighbours)


def test_feature_rows_hold_each_signal_for_each_candidate(kb):
    chunks = [c for c in kb.corpus_chunks()]
    rows = CandidateFeatures(kb).rows("unused leave days carry over", chunks)
    assert rows.shape == (len(DOCS), len(FEATURES))
    column = {name: rows[:, i] for i, name in enumerate(FEATURES)}
    by_source = [c.source for c in chunks]
    carry = by_source.index("carry")
    assert column["query_term_share"][carry] == 1.0 and column["query_term_share"][by_source.index("laptop")] == 0.0
    assert column["bm25"][carry] == column["bm25"].max() > 0
    assert column["dense"][carry] == column["dense"].max()
    assert column["rank_reciprocal"][0] == 1.0 and column["rank_log"][0] == 0.0


def test_the_weights_decide_the_order(kb, tmp_path):
    chunks = kb.corpus_chunks()
    one_feature_model("query_term_share", 1.0).save(tmp_path / "likes")
    one_feature_model("query_term_share", -1.0).save(tmp_path / "dislikes")
    liked = LearnedFusionReranker(kb, tmp_path / "likes").rerank("encryption of laptops", chunks, k=4)
    disliked = LearnedFusionReranker(kb, tmp_path / "dislikes").rerank("encryption of laptops", chunks, k=4)
    assert liked[0].source == "laptop" and disliked[-1].source == "laptop"
    assert all(0.0 < c.score < 1.0 for c in liked)


def test_labelled_neighbours_lift_what_was_judged_for_a_similar_query(kb, tmp_path):
    features = CandidateFeatures(kb)
    judged = Neighbours([features.query_vector("booking rail travel").tolist()], [{text_key(DOCS["trains"]): 2}])
    one_feature_model("neighbours", 1.0, judged).save(tmp_path / "model")
    ranked = LearnedFusionReranker(kb, tmp_path / "model").rerank("how do I book rail travel", kb.corpus_chunks(), k=4)
    assert ranked[0].source == "trains"


def test_a_training_query_never_sees_its_own_judgements():
    neighbours = Neighbours([[1.0, 0.0], [0.8, 0.6]], [{"a": 2}, {"b": 1}])
    assert neighbours.scores([1.0, 0.0], ["a", "b"], top=1) == [2.0, 0.0]
    assert neighbours.scores([1.0, 0.0], ["a", "b"], top=1, skip=0) == [0.0, pytest.approx(0.8)]


def test_bad_model_folders_get_errors_that_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="training.fusion_ranker"):
        load_fusion_model(tmp_path)
    (tmp_path / "fusion.json").write_text("{not json")
    with pytest.raises(ValueError, match="retrain it"):
        load_fusion_model(tmp_path)
    (tmp_path / "fusion.json").write_text(json.dumps({"features": ["bm25"], "mean": [0], "scale": [1], "weights": [1]}))
    with pytest.raises(ValueError, match="not this version"):
        load_fusion_model(tmp_path)


def test_a_fusion_spec_outside_a_knowledge_base_says_where_it_works():
    from rag.rerank import load_reranker

    with pytest.raises(ValueError, match="KnowledgeBase"):
        load_reranker("fusion:out/rankers/x")


def test_cross_validation_refuses_a_fusion_model_trained_on_the_scored_queries(tmp_path):
    from evals.retrieval import TrainedOnQueryError, check_held_out

    one_feature_model("bm25", 1.0).save(tmp_path, {"trained_query_ids": ["q1", "q2"]})
    check_held_out(tmp_path, ["q3"])
    with pytest.raises(TrainedOnQueryError, match="1 of the queries"):
        check_held_out(tmp_path, ["q2", "q3"])
