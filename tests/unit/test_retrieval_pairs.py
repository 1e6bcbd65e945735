"""Labelled-pair formats, hard-negative mining and cross-validation folds (no model loads)."""

import json

import pytest

from rag.store import ScoredChunk
from training.retrieval_pairs import load_pairs, mine_hard_negatives, query_folds, read_pairs_jsonl


def write_beir(folder, docs, queries, qrels):
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n"
                                                 for i, (t, x) in docs.items()))
    (folder / "queries.dev.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t{g}\n" for q, judged in qrels.items() for d, g in judged.items()))
    return folder


class ListRetriever:
    """A scripted first stage: the same ranked doc ids for every query."""

    def __init__(self, ranked):
        self.ranked = ranked

    def retrieve(self, query, k=10):
        return [ScoredChunk(text=d, source=d, chunk_index=0, score=1.0) for d in self.ranked[:k]]


def test_beir_folder_keeps_graded_judgements_and_titles(tmp_path):
    data = write_beir(tmp_path / "beir", {"1": ("Wing flutter", "Flutter of thin wings."), "2": ("", "Heat transfer.")},
                      {"q1": "flutter", "q2": "heat"}, {"q1": {"1": 3}, "q2": {"2": 1, "1": 0}})
    pairs = load_pairs(data, split="dev")
    assert pairs.source == "beir"
    assert pairs.documents["1"] == "Wing flutter\nFlutter of thin wings."
    assert pairs.qrels == {"q1": {"1": 3}, "q2": {"2": 1, "1": 0}}
    assert sorted(pairs.positives()) == [("q1", "1", 3), ("q2", "2", 1)]
    assert pairs.max_grade() == 3
    assert pairs.subset(["q2"]).queries == {"q2": "heat"}


def test_jsonl_pairs_share_ids_for_equal_texts_and_keep_negatives(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"query": "annual leave", "positive": "25 days of leave", "negative": ["Trains under 4 hours."]},
        {"query": "annual leave", "positive": "Leave carries over", "grade": 2},
        {"query": "train travel", "positive": "Trains under 4 hours."}]) + "\n")
    pairs = load_pairs(path)
    assert pairs.source == "jsonl"
    assert len(pairs.queries) == 2 and len(pairs.documents) == 3  # the train text is one document
    leave = next(q for q, t in pairs.queries.items() if t == "annual leave")
    assert sorted(pairs.qrels[leave].values()) == [1, 2]
    assert [pairs.documents[d] for d in pairs.negatives[leave]] == ["Trains under 4 hours."]


def test_bad_pairs_line_names_the_fix(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"query": "leave", "positive": "25 days"}) + "\n" + json.dumps({"query": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"pairs.jsonl:2 needs a non-empty \"query\" and \"positive\""):
        read_pairs_jsonl(path)
    with pytest.raises(FileNotFoundError, match="pass a BEIR folder"):
        load_pairs(tmp_path / "missing")


def test_documents_without_labels_fall_back_to_mined_pairs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "leave.md").write_text("# Annual leave\n\nFull-time staff get 25 days of paid leave each year. Unused days "
                                     "carry over to March. Requests go through the HR portal first.\n")
    pairs = load_pairs(folder)
    assert pairs.source == "mined"
    texts = set(pairs.queries.values())
    assert "Annual leave" in texts  # the title, paired with its document
    assert all(len(judged) == 1 for judged in pairs.qrels.values())


def test_hard_negatives_skip_relevant_and_the_very_top(tmp_path):
    data = write_beir(tmp_path / "beir", {str(i): ("", f"doc {i}") for i in range(10)}, {"q": "x"}, {"q": {"1": 2, "3": 1}})
    pairs = load_pairs(data)
    ranked = [str(i) for i in range(10)]  # the first stage ranks 0, 1, 2, ...
    mined = mine_hard_negatives(pairs, ListRetriever(ranked), per_query=3, skip_top=1, seed=0)["q"]
    assert len(mined) == 3
    assert not {"1", "3"} & set(mined)  # judged relevant: never a negative
    assert "0" not in mined             # the top unjudged hit is skipped (maybe a missed relevant one)
    assert mined[:2] == ["2", "4"]      # the hardest half in rank order


def test_folds_are_disjoint_and_cover_every_query():
    ids = [f"q{i}" for i in range(23)]
    folds = query_folds(ids, 5, seed=1)
    assert sorted(q for f in folds for q in f) == sorted(ids)
    assert [len(f) for f in folds] == [5, 5, 5, 4, 4]
    assert query_folds(ids, 5, seed=1) == folds  # seeded: the same folds every run
    with pytest.raises(ValueError, match="into 30 folds"):
        query_folds(ids, 30)


def test_lab_tools_name_the_fix_for_bad_arguments(tmp_path):
    from training import lab_tools as labs

    assert "No data at '/no/such/pairs.jsonl'" in labs.train_reranker.invoke({"data": "/no/such/pairs.jsonl"})
    assert "max_minutes=90" in labs.finetune_embeddings.invoke({"data": str(tmp_path), "max_minutes": 90})


def test_query_tuned_encoder_refuses_another_document_model(tmp_path):
    from models.static_query import model_fingerprint
    from training.embedding_finetune import QueryTunedEmbeddings

    base, other, query = tmp_path / "base", tmp_path / "other", tmp_path / "query"
    for folder, weights in ((base, b"A" * 64), (other, b"B" * 64)):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(weights)  # a fingerprint reads the weights files only
    query.mkdir()
    (query / "finetune.json").write_text(json.dumps({"queries_only": True,
                                                     "document_model_fingerprint": model_fingerprint(base)}))

    class Documents:  # a scripted stand-in for the document model: only its folder is read here
        def __init__(self, folder):
            self.folder = str(folder)

    assert QueryTunedEmbeddings(Documents(base), query).queries.folder == str(query)
    with pytest.raises(ValueError, match="tuned against another document model"):
        QueryTunedEmbeddings(Documents(other), query)


def test_pretraining_pairs_use_no_held_out_article_and_strip_titles_from_bodies(tmp_path):
    from training.grounded_data import xquad_articles
    from training.retrieval_pairs import main, pretraining_pairs

    corpus = tmp_path / "corpus.jsonl"
    body = "wing flutter was measured in the tunnel at several speeds and the damping fell sharply near the boundary"
    corpus.write_text(json.dumps({"_id": "1", "title": "flutter of thin wings .", "text": "flutter of thin wings . " + body})
                      + "\n" + json.dumps({"_id": "2", "title": "short", "text": "short . too short to learn from"}) + "\n")
    lines = pretraining_pairs(corpus)
    held_out = {qa["question"] for a in xquad_articles("test") for p in a["paragraphs"] for qa in p["qas"]}
    trained = {qa["question"] for a in xquad_articles("train") for p in a["paragraphs"] for qa in p["qas"]}
    queries = [line["query"] for line in lines]
    assert set(queries) & trained and not set(queries) & held_out
    assert {"query": "flutter of thin wings", "positive": body} in lines and "short" not in queries
    assert main(["--corpus", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x.jsonl")]) == 2
