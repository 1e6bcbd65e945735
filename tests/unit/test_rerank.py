"""Rerankers and the reranking retriever on scripted fakes (no model loads)."""

import pytest

from rag.rerank import EmbeddingReranker, RerankingRetriever, fuse_with_first_stage, load_reranker
from rag.store import ScoredChunk


def hit(doc, score=1.0):
    return ScoredChunk(text=doc, source=doc, chunk_index=0, score=score)


class TableEmbeddings:
    """A scripted fake embedding model: each text's vector is looked up in a table; counts calls."""

    def __init__(self, table):
        self.table, self.embedded = table, []

    def embed_query(self, text):
        return self.table[text]

    def embed_documents(self, texts):
        self.embedded.extend(texts)
        return [self.table[t] for t in texts]


class ListRetriever:
    def __init__(self, hits):
        self.hits, self.asked_k = hits, None

    def retrieve(self, query, k=10):
        self.asked_k = k
        return self.hits[:k]


TABLE = {"q": [1.0, 0.0], "far": [0.0, 1.0], "near": [0.9, 0.1], "mid": [0.5, 0.5]}


def test_embedding_reranker_alone_orders_by_the_second_model():
    reranker = EmbeddingReranker(TableEmbeddings(TABLE), first_stage_weight=0)
    ranked = reranker.rerank("q", [hit("far"), hit("mid"), hit("near")], k=2)
    assert [c.source for c in ranked] == ["near", "mid"]
    assert ranked[0].score == pytest.approx(0.9)


def test_first_stage_weight_decides_between_the_two_orders():
    # first stage says far, mid, near; the second model says near, mid, far
    candidates = [hit("far"), hit("mid"), hit("near")]
    trusting = EmbeddingReranker(TableEmbeddings(TABLE), first_stage_weight=2.0, rrf_k=1)
    assert trusting.rerank("q", candidates, k=3)[0].source == "far"  # 1/4 + 2/2 beats 1/2 + 2/4
    doubting = EmbeddingReranker(TableEmbeddings(TABLE), first_stage_weight=0.5, rrf_k=1)
    assert doubting.rerank("q", candidates, k=3)[0].source == "near"
    assert fuse_with_first_stage([0.2, 0.1], first_stage_weight=0.0, rrf_k=0) == [1.0, 0.5]


def test_candidate_vectors_are_cached_and_warm_embeds_once():
    embeddings = TableEmbeddings(TABLE)
    reranker = EmbeddingReranker(embeddings)
    reranker.warm(["far", "near", "far"])
    reranker.rerank("q", [hit("near"), hit("far"), hit("mid")], k=3)
    reranker.rerank("q", [hit("mid")], k=1)
    assert sorted(embeddings.embedded) == ["far", "mid", "near"]
    assert reranker.rerank("q", [], k=3) == []


def test_reranking_retriever_asks_for_candidates_and_returns_k():
    first = ListRetriever([hit("far"), hit("mid"), hit("near")])
    pipeline = RerankingRetriever(first, EmbeddingReranker(TableEmbeddings(TABLE), first_stage_weight=0), candidates=50)
    assert [c.source for c in pipeline.retrieve("q", k=1)] == ["near"]
    assert first.asked_k == 50


def test_reranking_retriever_reranks_only_the_top_candidates():
    # first stage: far, mid, near, then "tail"; only the top 2 are reranked, the rest follow unreranked
    first = ListRetriever([hit("far"), hit("mid"), hit("near"), hit("tail")])
    reranker = EmbeddingReranker(TableEmbeddings({**TABLE, "tail": [1.0, 0.0]}), first_stage_weight=0)
    pipeline = RerankingRetriever(first, reranker, candidates=2)
    assert [c.source for c in pipeline.retrieve("q", k=4)] == ["mid", "far", "near", "tail"]
    assert first.asked_k == 4
    assert [c.source for c in pipeline.retrieve("q", k=1)] == ["mid"]


def test_trained_reranker_folder_sets_its_serving_length(tmp_path):
    from rag.rerank import CrossEncoderReranker

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "reranker.json").write_text('{"max_length": 160, "first_stage_weight": 0.5}')
    reranker = CrossEncoderReranker(tmp_path)
    assert (reranker.max_length, reranker.first_stage_weight) == (160, 0.5)
    assert CrossEncoderReranker(tmp_path, first_stage_weight=0.0, max_length=64).max_length == 64


def test_load_reranker_names_the_specs_it_knows(tmp_path):
    with pytest.raises(ValueError, match="'e5-small', 'cross-encoder:FOLDER'"):
        load_reranker("colbert")
    with pytest.raises(ValueError, match="no config.json"):
        load_reranker(f"cross-encoder:{tmp_path}")
