"""The PubMedQA loader, incremental indexing and paper search with filters, on a three-record file,
Qdrant in memory and a deterministic fake embedding (hash-based vectors: equal texts, equal vectors)."""

from __future__ import annotations

import doctest
import json
import uuid
from types import SimpleNamespace

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

import rag.pubmed
from rag.pubmed import (
    PubMedDataError,
    index_pubmedqa,
    load_pubmedqa,
    matches_paper_filters,
    search_papers,
)
from rag.store import QdrantStore

RECORDS = {
    "111": {"QUESTION": "Do statins lower dementia risk?", "CONTEXTS": ["Statins were given to 300 adults.",
            "Dementia was rarer in the statin group (4% vs. 7%)."], "LABELS": ["METHODS", "RESULTS"],
            "MESHES": ["Humans", "Dementia", "Aged"], "YEAR": "2009", "final_decision": "yes", "LONG_ANSWER": "Yes."},
    "222": {"QUESTION": "Is asthma in children linked to pets?", "CONTEXTS": ["Children with dogs had less asthma."],
            "LABELS": ["RESULTS"], "MESHES": ["Humans", "Child", "Asthma"], "YEAR": "2014", "final_decision": "maybe",
            "LONG_ANSWER": "Maybe."},
    "333": {"QUESTION": "Do mitochondria remodel lace plant leaves?", "CONTEXTS": ["Mitochondria change during PCD."],
            "MESHES": ["Plant Leaves"], "YEAR": "2011", "final_decision": "yes"},
}


@pytest.fixture
def data(tmp_path):
    (tmp_path / "ori_pqal.json").write_text(json.dumps(RECORDS))
    return tmp_path


class CountingFakeEmbedding(DeterministicFakeEmbedding):
    calls: int = 0

    def embed_documents(self, texts):
        self.calls += 1
        return super().embed_documents(texts)


def fake_kb():
    """A knowledge base's parts without MiniLM: a real in-memory Qdrant store and fake embeddings."""
    store = QdrantStore.open(":memory:", f"pubmedqa-{uuid.uuid4().hex}", 16)
    return SimpleNamespace(store=store, embeddings=CountingFakeEmbedding(size=16), count=store.count,
                           search_by_vector=lambda vector, k=4: store.search(vector, k=k))


def test_docstring_examples():
    assert doctest.testmod(rag.pubmed).failed == 0


def test_records_load_from_a_folder_or_file_with_limit(data):
    records = load_pubmedqa(data)
    assert [r.pmid for r in records] == ["111", "222", "333"]
    first = records[0]
    assert first.question == "Do statins lower dementia risk?" and first.year == 2009 and first.decision == "yes"
    assert first.meshes == ["Humans", "Dementia", "Aged"] and first.labels == ["METHODS", "RESULTS"]
    assert [r.pmid for r in load_pubmedqa(data / "ori_pqal.json", limit=2)] == ["111", "222"]


def test_a_record_is_one_document_titled_by_its_question(data):
    doc = load_pubmedqa(data)[0].to_document()
    assert doc.title == "Do statins lower dementia risk?" and doc.source == "pubmedqa:111"
    assert doc.text == "Statins were given to 300 adults.\n\nDementia was rarer in the statin group (4% vs. 7%)."
    assert doc.metadata["year"] == 2009 and doc.metadata["meshes"] == ["Humans", "Dementia", "Aged"]


@pytest.mark.parametrize("content, message", [
    (None, "not found"), ("{not json", "not valid UTF-8 JSON"), ("[1, 2]", "keyed by PMID"),
    ('{"1": {"QUESTION": "q"}}', "lacks QUESTION or a CONTEXTS list")])
def test_bad_data_files_name_the_fix(tmp_path, content, message):
    if content is not None:
        (tmp_path / "ori_pqal.json").write_text(content)
    with pytest.raises(PubMedDataError, match=message):
        load_pubmedqa(tmp_path)


def test_indexing_is_incremental_and_batched(data):
    kb = fake_kb()
    records = load_pubmedqa(data)
    progress = []
    first = index_pubmedqa(kb, records, batch_size=2, progress=lambda done, total, name: progress.append((done, total)))
    assert (first.added, first.unchanged, kb.embeddings.calls) == (3, 0, 2)  # two batches, not three calls
    assert progress == [(0, 3), (2, 3), (3, 3)]
    assert kb.store.count() == first.chunks >= 3

    again = index_pubmedqa(kb, records)
    assert (again.added, again.unchanged, kb.embeddings.calls) == (0, 3, 2)

    records[1].contexts = ["Children with cats had more asthma."]
    edited = index_pubmedqa(kb, records)
    assert (edited.added, edited.unchanged) == (1, 2)
    texts = {c.text for c in kb.store.search(kb.embeddings.embed_query("x"), k=10)}
    assert "Children with cats had more asthma." in texts and "Children with dogs had less asthma." not in texts


def test_search_returns_one_hit_per_paper_with_filters(data):
    kb = fake_kb()
    index_pubmedqa(kb, load_pubmedqa(data))
    query = "Children with dogs had less asthma."  # equal text, equal fake vector: this paper first

    [best, *rest] = search_papers(kb, query, k=3)
    assert best.pmid == "222" and best.score == pytest.approx(1.0) and best.year == 2014
    assert best.highlights == ["Children with dogs had less asthma."]
    assert len({best.pmid, *(h.pmid for h in rest)}) == 3  # papers, not chunks

    assert [h.pmid for h in search_papers(kb, query, k=3, mesh="dementia")] == ["111"]
    assert {h.pmid for h in search_papers(kb, query, k=3, years=(2010, 2012))} == {"333"}
    assert search_papers(kb, query, k=3, years=(1990, 1995)) == []
    assert search_papers(kb, "   ", k=3) == []


def test_filters_match_year_range_and_any_mesh_term():
    from rag.store import ScoredChunk

    chunk = ScoredChunk("t", "pubmedqa:1", 0, 0.5, metadata={"year": 2009, "meshes": ["Humans", "Aged"]})
    assert matches_paper_filters(chunk, mesh=["Child", "Aged"]) and not matches_paper_filters(chunk, mesh=["Child"])
    assert matches_paper_filters(chunk, years=(2009, 2009))
    assert not matches_paper_filters(ScoredChunk("t", "s", 0, 0.5), years=(2000, 2020))  # no year: excluded
