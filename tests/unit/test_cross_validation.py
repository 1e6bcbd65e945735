"""Cross-validation of trained retrieval models never scores a query the model trained on.

The training and scoring functions here are scripted (no model loads): each "model" is a folder
with the same training record `training.reranker` writes (`trained_query_ids`)."""

import json

import pytest

from evals.ir_metrics import ndcg_at_k, paired_tests, percentile
from evals.retrieval import TrainedOnQueryError, check_held_out, cross_validate
from training.retrieval_pairs import LabelledPairs

QUERIES = {f"q{i}": f"query {i}" for i in range(12)}
PAIRS = LabelledPairs({"d": "doc"}, dict(QUERIES), {q: {"d": 1} for q in QUERIES}, source="test")


def make_trainer(tmp_path, trained_ids=None):
    seen = []

    def train_fold(training, index):
        folder = tmp_path / f"fold{index}"
        folder.mkdir()
        ids = sorted(training.queries) if trained_ids is None else trained_ids
        (folder / "reranker.json").write_text(json.dumps({"trained_query_ids": ids}))
        seen.append(set(training.queries))
        return {"reranker": folder}

    return train_fold, seen


def test_every_query_is_scored_once_by_a_model_that_never_saw_it(tmp_path):
    train_fold, trained_on = make_trainer(tmp_path)
    scored_by_fold = []

    def score_fold(folders, held_out):
        record = json.loads((folders["reranker"] / "reranker.json").read_text())
        scored_by_fold.append((set(record["trained_query_ids"]), set(held_out)))
        return {"trained": {q: (["d"], 0.001) for q in held_out}}

    results, parts = cross_validate(PAIRS, 4, train_fold, score_fold, seed=3)
    assert len(parts) == 4 and sorted(results["trained"]) == sorted(QUERIES)
    for (model_saw, scored), training in zip(scored_by_fold, trained_on):
        assert not model_saw & scored          # the model's own record: none of the scored queries
        assert model_saw == training           # and it trained on all the other folds' queries
        assert len(model_saw) + len(scored) == len(QUERIES)


def test_a_model_trained_on_all_queries_is_refused(tmp_path):
    # the mutation: a trainer that leaks the held-out fold into training
    train_fold, _ = make_trainer(tmp_path, trained_ids=sorted(QUERIES))
    with pytest.raises(TrainedOnQueryError, match="trained on 3 of the queries it would score"):
        cross_validate(PAIRS, 4, train_fold, lambda folders, held_out: {}, seed=3)


def test_scoring_outside_the_fold_is_refused(tmp_path):
    train_fold, _ = make_trainer(tmp_path)
    with pytest.raises(TrainedOnQueryError, match="outside fold 1"):
        cross_validate(PAIRS, 3, train_fold, lambda folders, held_out: {"x": {q: ([], 0.0) for q in QUERIES}})


def test_a_folder_without_training_record_cannot_be_scored(tmp_path):
    with pytest.raises(TrainedOnQueryError, match="no training record"):
        check_held_out(tmp_path, ["q1"])


def test_paired_tests_tell_a_real_difference_from_noise():
    qrels = {f"q{i}": {"good": 1} for i in range(30)}
    per_query = {"perfect": {q: ndcg_at_k(["good", "bad"], qrels[q]) for q in qrels},
                 "worse": {q: ndcg_at_k(["bad", "good"], qrels[q]) for q in qrels},
                 "mixed": {q: ndcg_at_k(["good", "bad"] if i % 2 else ["bad", "good"], qrels[q])
                           for i, q in enumerate(qrels)}}
    per_query["same"] = dict(per_query["perfect"])
    tests = paired_tests(per_query, ["perfect", "mixed"])
    assert tests["worse"]["perfect"]["fisher_p"] < 0.01 and tests["worse"]["perfect"]["t_test_p"] < 0.01
    assert tests["worse"]["perfect"]["delta"] == pytest.approx(0.6309 - 1.0, abs=1e-3)
    assert tests["same"]["perfect"]["fisher_p"] == 1.0
    # better (worse) on half the queries and equal on the rest: still a real difference
    assert tests["perfect"]["mixed"]["fisher_p"] < 0.01 and tests["worse"]["mixed"]["fisher_p"] < 0.01
    assert tests["mixed"]["perfect"]["queries"] == 30


def test_one_percentile_rule():
    latencies = [0.010, 0.030, 0.020, 0.040, 0.050]
    assert percentile(latencies, 0.5) == 0.030 and percentile(latencies, 0.95) == 0.050
