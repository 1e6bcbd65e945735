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
    assert ndcg_at_k(["d2", "x", "d1"], relevance, k=10, gain="exponential") == pytest.approx(got / ideal)
    linear = (1 / math.log2(2) + 3 / math.log2(4)) / (3 + 1 / math.log2(3))  # trec_eval's ndcg_cut
    assert ndcg_at_k(["d2", "x", "d1"], relevance, k=10) == pytest.approx(linear)
    with pytest.raises(ValueError, match="'linear'"):
        ndcg_at_k(["d1"], relevance, gain="squared")
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


def test_rank_bm25_backend_agrees_with_bm25s_on_the_winner():
    texts = [("leave", "Full-time employees get 25 days of paid annual leave."),
             ("security", "Report security incidents within one hour."),
             ("travel", "Book trains for trips under four hours.")]
    for backend in ("bm25s", "rank_bm25"):
        found = BM25Retriever.from_texts(texts, backend=backend).retrieve("annual leave days", k=2)
        assert [h.source for h in found] == ["leave"], backend
        assert BM25Retriever([], backend=backend).retrieve("annual leave") == []  # an empty collection
    with pytest.raises(ValueError, match="'bm25s' or 'rank_bm25'"):
        BM25Retriever.from_texts(texts, backend="lucene")


def test_bm25_filters_keep_only_matching_chunks():
    chunks = [ScoredChunk(text="annual leave policy for staff", source="hr.md", chunk_index=0, score=0,
                          metadata={"team": "hr"}),
              ScoredChunk(text="annual leave calendar export", source="it.md", chunk_index=0, score=0,
                          metadata={"team": "it"})]
    bm25 = BM25Retriever(chunks)
    assert [h.source for h in bm25.retrieve("annual leave", k=5, filters={"team": "it"})] == ["it.md"]
    assert [h.source for h in bm25.retrieve("annual leave", k=5, filters={"team": ["hr", "it"]})] == ["hr.md", "it.md"]
    assert bm25.retrieve("annual leave", k=5, filters={"source": "none.md"}) == []


def test_mmr_skips_a_near_duplicate():
    from rag.mmr import MMRRetriever, mmr_order

    class AxisEmbeddings:  # a scripted fake: each text names its vector
        vectors = {"q": [1.0, 0.0], "a": [1.0, 0.0], "a2": [0.99, 0.05], "b": [0.6, 0.8]}

        def embed_query(self, text):
            return self.vectors[text]

        def embed_documents(self, texts):
            return [self.vectors[t] for t in texts]

    assert mmr_order([1, 0], [[1, 0], [0.99, 0.05], [0.6, 0.8]], k=3, lambda_mult=1.0) == [0, 1, 2]
    base = ListRetriever([hit("a", 3), hit("a2", 2), hit("b", 1)])
    assert [h.source for h in MMRRetriever(base, AxisEmbeddings(), lambda_mult=0.3).retrieve("q", k=2)] == ["a", "b"]
    with pytest.raises(ValueError, match="from 0"):
        MMRRetriever(base, AxisEmbeddings(), lambda_mult=2)


def test_multi_query_fuses_the_rewrites_and_hyde_averages_vectors():
    from rag.query_expansion import HyDERetriever, HypotheticalPassage, MultiQueryRetriever, SearchQueries

    class ScriptedStructuredFakeChatModel:
        """A scripted fake chat model: with_structured_output(...).invoke returns the next scripted object."""

        def __init__(self, replies):
            self.replies = list(replies)

        def with_structured_output(self, schema, **kwargs):
            assert all(isinstance(r, schema) for r in self.replies[:1])
            return self

        def invoke(self, messages):
            return self.replies.pop(0)

    class KeywordRetriever:
        def __init__(self):
            self.asked = []

        def retrieve(self, query, k=10):
            self.asked.append(query)
            return [hit("vacation", 1.0)] if "vacation" in query else [hit("other", 1.0)]

    base = KeywordRetriever()
    model = ScriptedStructuredFakeChatModel([SearchQueries(queries=["paid vacation days", "", "Q"])])
    found = MultiQueryRetriever(base, model, n=3).retrieve("q", k=2)
    assert base.asked == ["q", "paid vacation days"]  # the empty rewrite and the question's echo dropped
    assert {h.source for h in found} == {"other", "vacation"}

    class VectorKB:
        class embeddings:
            @staticmethod
            def embed_query(text):
                return [1.0, 0.0]

            @staticmethod
            def embed_documents(texts):
                return [[0.0, 1.0] for _ in texts]

        def search_by_vector(self, vector, k=4):
            self.vector = vector
            return [hit("x", 1.0)]

    kb = VectorKB()
    hyde = HyDERetriever(kb, ScriptedStructuredFakeChatModel([HypotheticalPassage(passage="You get 25 days.")]))
    assert hyde.retrieve("How much leave?", k=1)[0].source == "x" and kb.vector == [0.5, 0.5]
