"""The vector store: Qdrant, in local mode in a folder (default) or a server by URL.

    store = QdrantStore.open(".hearth/qdrant", "handbook", dimension=384)   # embedded, on disk
    store = QdrantStore.open("http://127.0.0.1:6333", "handbook", dimension=384)  # a server
    store.search(vector, k=4)  ->  [ScoredChunk(...), ...]

Local mode holds a file lock on its folder, so one process at a time may open it; a second
gets `VectorStoreLockedError` naming the fix instead of Qdrant's raw RuntimeError.
"""

from __future__ import annotations

import atexit
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence


class VectorStoreError(RuntimeError):
    """A vector store that cannot be opened or used as asked."""


class VectorStoreLockedError(VectorStoreError):
    """The local Qdrant folder is open in another process."""


@dataclass
class ScoredChunk:
    """A retrieved chunk: its text, where it came from, and how well it matched."""

    text: str
    source: str
    chunk_index: int
    score: float
    title: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short citation label: file name and chunk (and page when known)."""
        page = self.metadata.get("page")
        where = f"p.{page}, " if page else ""
        return f"{Path(self.source).name} ({where}chunk {self.chunk_index})"


_client_lock = threading.Lock()
_clients: dict[str, object] = {}
_writes: dict[tuple[int, str], int] = {}  # (client id, collection) -> writes made through this process


@atexit.register
def close_all_clients() -> None:
    """Close clients (and release local-mode folder locks) before interpreter shutdown."""
    with _client_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def _open_client(location: str):
    from qdrant_client import QdrantClient

    if location.startswith(("http://", "https://")):
        return QdrantClient(url=location, timeout=30)
    if location == ":memory:":  # benchmarks and throwaway indexes
        return QdrantClient(location=":memory:")
    folder = Path(location).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(folder))
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise VectorStoreLockedError(
                f"The vector index at {folder} is open in another process (a chat app, `langgraph dev` or "
                "another `apps.ask`). Stop that process, point this one at another folder with "
                "--index-dir, or run a Qdrant server and pass its URL (--qdrant-url http://127.0.0.1:6333)."
            ) from exc
        raise


def open_qdrant_client(location: str):
    """One client per location per process (local mode cannot be opened twice)."""
    with _client_lock:
        if str(location) not in _clients:
            _clients[str(location)] = _open_client(str(location))
        return _clients[str(location)]


class QdrantStore:
    """Chunks with their vectors in one Qdrant collection; payload carries text and source."""

    def __init__(self, client, collection: str, dimension: int, is_server: bool = False):
        self.client = client
        self.is_server = is_server
        self.collection = collection
        self.dimension = dimension

    @classmethod
    def open(cls, location: str, collection: str, dimension: int) -> "QdrantStore":
        store = cls(open_qdrant_client(location), collection, dimension,
                    is_server=str(location).startswith(("http://", "https://")))
        store._check_dimension()
        return store

    def _check_dimension(self) -> None:
        if not self.client.collection_exists(self.collection):
            return
        info = self.client.get_collection(self.collection)
        size = info.config.params.vectors.size
        if size != self.dimension:
            raise VectorStoreError(
                f"Collection {self.collection!r} holds {size}-dimensional vectors but the embedding model "
                f"makes {self.dimension}. Use the embedding model it was built with, or a new --collection."
            )

    def _ensure_collection(self) -> None:
        from qdrant_client.models import Distance, PayloadSchemaType, VectorParams

        if self.client.collection_exists(self.collection):
            return
        self.client.create_collection(self.collection, vectors_config=VectorParams(size=self.dimension, distance=Distance.COSINE))
        if self.is_server:  # local mode has no payload indexes (filters still work there)
            self.client.create_payload_index(self.collection, "source", PayloadSchemaType.KEYWORD)

    def collection_metadata(self) -> dict:
        """The collection's own metadata (Qdrant stores it with the collection); {} when none."""
        if not self.client.collection_exists(self.collection):
            return {}
        return dict(self.client.get_collection(self.collection).config.metadata or {})

    def update_collection_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Merge `metadata` into the collection's metadata (the collection is created if missing)."""
        self._ensure_collection()
        self.client.update_collection(self.collection, metadata=dict(metadata))

    def count(self) -> int:
        if not self.client.collection_exists(self.collection):
            return 0
        return self.client.count(self.collection, exact=True).count

    @property
    def writes(self) -> int:
        """How many upserts/deletes this process made to the collection (through any QdrantStore),
        so caches built from its contents can tell they are stale without asking Qdrant."""
        return _writes.get((id(self.client), self.collection), 0)

    def _wrote(self) -> None:
        key = (id(self.client), self.collection)
        _writes[key] = _writes.get(key, 0) + 1

    def replace_source(self, source: str, content_hash: str, chunks: Sequence, vectors: Sequence[Sequence[float]]) -> None:
        """Put a file's new chunks in, then take its old ones out: a failure in between leaves the
        old version searchable, never a half-written file."""
        self.upsert_chunks(chunks, vectors, source=source, content_hash=content_hash)
        self._delete(source, keep_hash=content_hash)

    def upsert_chunks(self, chunks: Sequence, vectors: Sequence[Sequence[float]], *, source: str | None = None,
                      content_hash: str = "", batch_size: int = 256) -> None:
        """Add chunks in batches (ids derive from source, hash and chunk index, so re-adding replaces)."""
        from qdrant_client.models import PointStruct

        if len(chunks) != len(vectors):
            raise ValueError("chunks and vectors differ in length")
        self._ensure_collection()
        points = []
        for c, v in zip(chunks, vectors):
            origin = source or c.source
            points.append(PointStruct(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{origin}#{content_hash}#{c.chunk_index}")),
                vector=list(v),
                payload={"text": c.text, "source": origin, "chunk_index": c.chunk_index, "title": c.title,
                         "content_hash": content_hash, **{key: value for key, value in c.metadata.items() if key != "text"}},
            ))
        for start in range(0, len(points), batch_size):
            self.client.upsert(self.collection, points=points[start:start + batch_size], wait=True)
        self._wrote()

    def delete_source(self, source: str) -> None:
        if self.client.collection_exists(self.collection):
            self._delete(source, keep_hash=None)

    def _delete(self, source: str, keep_hash: str | None) -> None:
        from qdrant_client.models import FieldCondition, Filter, FilterSelector, MatchValue

        must_not = [FieldCondition(key="content_hash", match=MatchValue(value=keep_hash))] if keep_hash else None
        selector = FilterSelector(filter=Filter(must=[FieldCondition(key="source", match=MatchValue(value=source))],
                                                must_not=must_not))
        self.client.delete(self.collection, points_selector=selector, wait=True)
        self._wrote()

    def source_hashes(self) -> dict[str, str]:
        """source -> content hash of what is indexed (to skip unchanged files)."""
        if not self.client.collection_exists(self.collection):
            return {}
        found: dict[str, str] = {}
        offset = None
        while True:
            points, offset = self.client.scroll(self.collection, limit=512, offset=offset,
                                                with_payload=["source", "content_hash"], with_vectors=False)
            for p in points:
                found[p.payload["source"]] = p.payload.get("content_hash", "")
            if offset is None:
                return found

    def search(self, vector: Sequence[float], k: int = 4, sources: Iterable[str] | None = None,
               filters: Mapping[str, Any] | None = None) -> list[ScoredChunk]:
        """Nearest chunks to `vector`; `sources` and `filters` (payload field -> value or list of
        values, see `rag.retrievers.matches_filters`) narrow the search inside Qdrant."""
        from qdrant_client.models import FieldCondition, Filter, MatchAny

        if not self.client.collection_exists(self.collection):
            return []
        conditions = qdrant_conditions(filters)
        if sources:
            conditions.append(FieldCondition(key="source", match=MatchAny(any=list(sources))))
        query_filter = Filter(must=conditions) if conditions else None
        hits = self.client.query_points(self.collection, query=list(vector), limit=k, query_filter=query_filter,
                                        with_payload=True).points
        return [_to_chunk(h.payload, h.score) for h in hits]

    def iter_chunks(self, batch_size: int = 512) -> Iterator[ScoredChunk]:
        """Every chunk in the collection (score 0), in Qdrant's order; for lexical indexes."""
        for chunk, _ in self._scroll(batch_size, with_vectors=False):
            yield chunk

    def iter_chunks_with_vectors(self, batch_size: int = 512) -> Iterator[tuple[ScoredChunk, list[float]]]:
        """Every (chunk, vector) in the collection."""
        yield from self._scroll(batch_size, with_vectors=True)

    def _scroll(self, batch_size: int, with_vectors: bool):
        if not self.client.collection_exists(self.collection):
            return
        offset = None
        while True:
            points, offset = self.client.scroll(self.collection, limit=batch_size, offset=offset,
                                                with_payload=True, with_vectors=with_vectors)
            for p in points:
                yield _to_chunk(p.payload, 0.0), p.vector
            if offset is None:
                return


def qdrant_conditions(filters: Mapping[str, Any] | None) -> list:
    """Qdrant `must` conditions for a filters dict: a list value matches any of its items."""
    from qdrant_client.models import FieldCondition, MatchAny, MatchValue

    conditions = []
    for key, wanted in (filters or {}).items():
        if isinstance(wanted, (list, tuple, set, frozenset)):
            conditions.append(FieldCondition(key=key, match=MatchAny(any=list(wanted))))
        else:
            conditions.append(FieldCondition(key=key, match=MatchValue(value=wanted)))
    return conditions


def _to_chunk(payload: dict, score: float) -> ScoredChunk:
    meta = {k: v for k, v in payload.items() if k not in ("text", "source", "chunk_index", "title")}
    return ScoredChunk(text=payload["text"], source=payload["source"], chunk_index=int(payload["chunk_index"]),
                       score=float(score), title=payload.get("title", ""), metadata=meta)
