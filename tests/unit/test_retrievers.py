"""Fusion, BM25 and ranking metrics on hand-checked examples."""

import math

import pytest

from evals.ir_metrics import load_beir, mrr_at_k, ndcg_at_k, recall_at_k
from rag.retrievers import BM25Retriever, FusionRetriever, reciprocal_rank_fusion
from rag.store import ScoredChunk


def hit(doc, score):
    return ScoredChunk(text=doc, source=doc, chunk_index=0, score=score)


class ListRetriever:
    def __init__(self, hits):
        self.hits = hits

    def retrieve(self, query, k=10):
        return self.hits[:k]


def test_reciprocal_rank_fusion_scores():
    fused = reciprocal_rank_fusion([[hit("a", 3), hit("b", 2)], [hit("b", 0.9), hit("c", 0.5)]], k=60)
    assert [c.source for c in fused] == ["b", "a", "c"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    weighted = reciprocal_rank_fusion([[hit("a", 3)], [hit("c", 1)]], weights=[1.0, 2.0])
    assert [c.source for c in weighted] == ["c", "a"]


def test_fusion_retriever_checks_its_arguments_and_cuts_to_k():
    retriever = FusionRetriever([ListRetriever([hit("a", 1), hit("b", 0.5)]), ListRetriever([hit("c", 2)])],
                                mode="relative_score")
    assert len(retriever.retrieve("q", k=2)) == 2
    with pytest.raises(ValueError, match="one weight per retriever"):
        FusionRetriever([ListRetriever([])], weights=[1, 2])
    with pytest.raises(ValueError, match="Unknown fusion mode"):
        FusionRetriever([ListRetriever([])], mode="borda")


def test_bm25_ranks_the_matching_document_first():
    bm25 = BM25Retriever.from_texts([
        ("leave", "Full-time employees get 25 days of paid annual leave."),
        ("security", "Report security incidents within one hour."),
        ("travel", "Book trains for trips under four hours."),
    ])
    found = bm25.retrieve("How many days of annual leave?", k=3)
    assert found[0].source == "leave" and all(h.score > 0 for h in found)
    assert bm25.retrieve("the of and", k=3) == []  # only stopwords


def test_metrics_match_hand_computed_values():
    relevance = {"d1": 3, "d2": 1}
    ideal = (2**3 - 1) + (2**1 - 1) / math.log2(3)
    got = (2**1 - 1) / math.log2(2) + (2**3 - 1) / math.log2(4)
    assert ndcg_at_k(["d2", "x", "d1"], relevance, k=10) == pytest.approx(got / ideal)
    assert ndcg_at_k(["d1", "d2"], relevance) == pytest.approx(1.0)
    assert recall_at_k(["x", "d2"], relevance, k=100) == 0.5
    assert mrr_at_k(["x", "y", "d1"], relevance, k=10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x"], relevance, k=10) == 0.0


def test_load_beir_reads_a_small_folder(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "1", "title": "t", "text": "wing flow"}\n{"_id": "2", "text": "x"}\n')
    (tmp_path / "queries.dev.jsonl").write_text('{"_id": "7", "text": "wing"}\n{"_id": "8", "text": "no judgments"}\n')
    (tmp_path / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n7\t1\t2\n")
    corpus, queries, qrels = load_beir(tmp_path, split="dev")
    assert corpus["1"]["text"] == "wing flow" and queries == {"7": "wing"} and qrels == {"7": {"1": 2}}
    with pytest.raises(FileNotFoundError, match="'test' split"):
        load_beir(tmp_path, split="test")
