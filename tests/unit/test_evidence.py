from langchain_core.embeddings import Embeddings

from rag.evidence import select_evidence, split_sentences
from rag.store import ScoredChunk


class KeywordEmbeddings(Embeddings):
    """Fake embeddings: one dimension per keyword, so similarity is keyword overlap."""

    words = ["leave", "days", "carry", "march", "laptop", "encrypted"]

    def embed_documents(self, texts):
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text):
        low = text.lower()
        return [float(w in low) for w in self.words]


def test_split_sentences_drops_markup_and_fragments():
    text = "## Entitlement\n\n- **Full-time employees get 25 days.** Public holidays extra!\n1. Open Harbor today\nOk."
    assert split_sentences(text) == ["Full-time employees get 25 days.", "Public holidays extra!", "Open Harbor today"]


def test_select_evidence_keeps_chunk_numbers_best_first():
    chunks = [ScoredChunk(text="Laptops must be encrypted. Lock your screen.", source="s.md", chunk_index=0, score=0.5),
              ScoredChunk(text="You get 25 leave days a year. Carry over 5 days until March.", source="l.md",
                          chunk_index=3, score=0.4)]
    found = select_evidence("How many leave days can I carry to March?", chunks, KeywordEmbeddings(), limit=2)
    assert [(e.number, e.sentence) for e in found] == [(2, "Carry over 5 days until March."),
                                                      (2, "You get 25 leave days a year.")]
    assert found[0].score >= found[1].score
    assert select_evidence("q", [], KeywordEmbeddings()) == []
