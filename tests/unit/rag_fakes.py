"""A fake knowledge base for unit tests of the RAG graphs: no embeddings, no Qdrant."""

from __future__ import annotations

from langchain_core.embeddings import DeterministicFakeEmbedding

from rag.evidence import content_words


class FakeKnowledgeBase:
    """Chunks ranked by the content words they share with the query; remembers every query."""

    collection = "fake"

    def __init__(self, chunks):
        self.chunks, self.queries = chunks, []
        self.embeddings = DeterministicFakeEmbedding(size=16)

    def count(self):
        return len(self.chunks)

    def search(self, query, k=4, **settings):
        self.queries.append(query)
        wanted = content_words(query)
        ranked = sorted(self.chunks, key=lambda c: -len(wanted & content_words(c.text)))
        return [c for c in ranked[:k] if wanted & content_words(c.text)]
