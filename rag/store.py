"""The vector store: Qdrant, in local mode in a folder (default) or a server by URL.

    store = QdrantStore.open(".hearth/qdrant", "handbook", dimension=384)   # embedded, on disk
    store = QdrantStore.open("http://127.0.0.1:6333", "handbook", dimension=384)  # a server
    store.search(vector, k=4)  ->  [ScoredChunk(...), ...]

Several processes share one local folder (the chat app, `langgraph dev`, `apps.ask`, the search
app): Qdrant's local mode lets one process open a folder at a time, so each process opens it only
for the moment it reads or writes, under an inter-process lock file (`.hearth.lock`, waited for,
held only while the folder is open), and every write bumps `.hearth-generation`. Searches run over
the knowledge base's in-memory snapshot of the vectors, reloaded when the generation changes, so
readers never hold the folder. A folder held open by something that does not take the lock (an
older version, a raw `QdrantClient(path=...)`) gives `VectorStoreLockedError` naming the fix.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
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
        for folder in _folders.values():
            while folder._depth > 0:  # a pinned `QdrantStore.client`
                folder._depth = 1
                folder._release()
                folder._depth = 0


def _open_client(location: str):
    from qdrant_client import QdrantClient

    if location.startswith(("http://", "https://")):
        return QdrantClient(url=location, timeout=30)
    return QdrantClient(location=":memory:")  # benchmarks and throwaway indexes


def open_qdrant_client(location: str):
    """One client per server URL or ":memory:" per process (local folders: `SharedFolder`)."""
    with _client_lock:
        if str(location) not in _clients:
            _clients[str(location)] = _open_client(str(location))
        return _clients[str(location)]


LOCK_WAIT_SECONDS = float(os.environ.get("HEARTH_INDEX_LOCK_WAIT", "120"))


class SharedFolder:
    """A Qdrant local-mode folder that several processes share: `open()` waits for the lock file,
    opens the folder, and on leaving the outermost `open()` closes it and releases the lock, so a
    process holds the folder only while it reads or writes. Re-entrant within a process.

        with shared_folder(".hearth/qdrant").open(write=True) as client:
            client.upsert(...)          # other processes wait here, then see a new generation()
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.lock_path = folder / ".hearth.lock"
        self.generation_path = folder / ".hearth-generation"
        self._mutex = threading.RLock()
        self._depth = 0
        self._client = None
        self._lock_file = None
        self._wrote = False
        self.opened = 0  # how many times this process opened the folder (measured by tests and benchmarks)

    def generation(self) -> str:
        """Changes whenever any process has written to the folder."""
        try:
            return self.generation_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    @contextlib.contextmanager
    def open(self, write: bool = False):
        with self._mutex:
            if self._depth == 0:
                self._acquire()
            self._depth += 1
            try:
                yield self._client
                if write:
                    self._wrote = True
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def _acquire(self) -> None:
        import portalocker
        from qdrant_client import QdrantClient

        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.lock_path, "a+")
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                portalocker.lock(self._lock_file, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
                break
            except portalocker.exceptions.LockException:
                if time.monotonic() > deadline:
                    self._lock_file.close()
                    raise VectorStoreLockedError(
                        f"The vector index at {self.folder} stayed busy for {LOCK_WAIT_SECONDS:.0f} s (another process "
                        "is writing a large batch). Try again when it is done, or raise HEARTH_INDEX_LOCK_WAIT.") from None
                time.sleep(0.02)
        try:
            self._client = QdrantClient(path=str(self.folder))
        except RuntimeError as exc:
            portalocker.unlock(self._lock_file)
            self._lock_file.close()
            if "already accessed" in str(exc):
                raise VectorStoreLockedError(
                    f"The vector index at {self.folder} is held open by another process that does not share it "
                    "(an older version of this project, or a script using QdrantClient(path=...) directly). Stop that "
                    "process, or point this one at another folder with --index-dir.") from exc
            raise
        self.opened += 1

    def _release(self) -> None:
        import portalocker

        try:
            self._client.close()
            if self._wrote:
                self.generation_path.write_text(uuid.uuid4().hex, encoding="utf-8")
        finally:
            self._client, self._wrote = None, False
            portalocker.unlock(self._lock_file)
            self._lock_file.close()
            self._lock_file = None


_folders: dict[str, SharedFolder] = {}


def shared_folder(location: str) -> SharedFolder:
    """The process's one `SharedFolder` per local index folder."""
    folder = Path(location).expanduser().resolve()
    with _client_lock:
        return _folders.setdefault(str(folder), SharedFolder(folder))


def is_local_folder(location: str) -> bool:
    return not str(location).startswith(("http://", "https://")) and str(location) != ":memory:"


class QdrantStore:
    """Chunks with their vectors in one Qdrant collection; payload carries text and source."""

    def __init__(self, client, collection: str, dimension: int, is_server: bool = False,
                 folder: SharedFolder | None = None):
        self._client = client
        self.folder = folder  # set for a local folder: opened per operation, shared with other processes
        self.is_server = is_server
        self.collection = collection
        self.dimension = dimension
        self._pinned = None

    @classmethod
    def open(cls, location: str, collection: str, dimension: int) -> "QdrantStore":
        if is_local_folder(location):
            store = cls(None, collection, dimension, folder=shared_folder(location))
        else:
            store = cls(open_qdrant_client(location), collection, dimension,
                        is_server=str(location).startswith(("http://", "https://")))
        store._check_dimension()
        return store

    @contextlib.contextmanager
    def session(self, write: bool = False):
        """The client for one operation (or several in a row); a local folder is held only inside."""
        if self.folder is None:
            yield self._client
        else:
            with self.folder.open(write=write) as client:
                yield client

    @property
    def client(self):
        """The client, kept open until `close()` (for callers that use it directly, such as apps.doctor);
        prefer `session()`, which releases a shared folder after each operation."""
        if self.folder is None:
            return self._client
        if self._pinned is None:
            self._pinned = self.folder.open(write=True)
            return self._pinned.__enter__()
        return self.folder._client

    def close(self) -> None:
        if self._pinned is not None:
            pinned, self._pinned = self._pinned, None
            pinned.__exit__(None, None, None)

    def version(self):
        """Changes when the collection may have changed: the folder's generation (any process), or
        this process's writes (a server is also counted by the caller; ":memory:" is private)."""
        return self.folder.generation() if self.folder is not None else self.writes

    def _check_dimension(self) -> None:
        with self.session() as client:
            if not client.collection_exists(self.collection):
                return
            info = client.get_collection(self.collection)
        size = info.config.params.vectors.size
        if size != self.dimension:
            raise VectorStoreError(
                f"Collection {self.collection!r} holds {size}-dimensional vectors but the embedding model "
                f"makes {self.dimension}. Use the embedding model it was built with, or a new --collection."
            )

    def _ensure_collection(self, client) -> None:
        from qdrant_client.models import Distance, PayloadSchemaType, VectorParams

        if client.collection_exists(self.collection):
            return
        client.create_collection(self.collection, vectors_config=VectorParams(size=self.dimension, distance=Distance.COSINE))
        if self.is_server:  # local mode has no payload indexes (filters still work there)
            client.create_payload_index(self.collection, "source", PayloadSchemaType.KEYWORD)

    def count(self) -> int:
        with self.session() as client:
            if not client.collection_exists(self.collection):
                return 0
            return client.count(self.collection, exact=True).count

    @property
    def writes(self) -> int:
        """How many upserts/deletes this process made to the collection (through any QdrantStore),
        so caches built from its contents can tell they are stale without asking Qdrant."""
        return _writes.get((id(self._client or self.folder), self.collection), 0)

    def _wrote(self) -> None:
        key = (id(self._client or self.folder), self.collection)
        _writes[key] = _writes.get(key, 0) + 1

    def replace_source(self, source: str, content_hash: str, chunks: Sequence, vectors: Sequence[Sequence[float]]) -> None:
        """Put a file's new chunks in, then take its old ones out: a failure in between leaves the
        old version searchable, never a half-written file."""
        with self.session(write=True):
            self.upsert_chunks(chunks, vectors, source=source, content_hash=content_hash)
            self._delete(source, keep_hash=content_hash)

    def upsert_chunks(self, chunks: Sequence, vectors: Sequence[Sequence[float]], *, source: str | None = None,
                      content_hash: str = "", batch_size: int = 256) -> None:
        """Add chunks in batches (ids derive from source, hash and chunk index, so re-adding replaces)."""
        from qdrant_client.models import PointStruct

        if len(chunks) != len(vectors):
            raise ValueError("chunks and vectors differ in length")
        points = []
        for c, v in zip(chunks, vectors):
            origin = source or c.source
            points.append(PointStruct(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{origin}#{content_hash}#{c.chunk_index}")),
                vector=list(v),
                payload={"text": c.text, "source": origin, "chunk_index": c.chunk_index, "title": c.title,
                         "content_hash": content_hash, **{key: value for key, value in c.metadata.items() if key != "text"}},
            ))
        with self.session(write=True) as client:
            self._ensure_collection(client)
            for start in range(0, len(points), batch_size):
                client.upsert(self.collection, points=points[start:start + batch_size], wait=True)
        self._wrote()

    def delete_source(self, source: str) -> None:
        with self.session(write=True) as client:
            if client.collection_exists(self.collection):
                self._delete(source, keep_hash=None)

    def _delete(self, source: str, keep_hash: str | None) -> None:
        from qdrant_client.models import FieldCondition, Filter, FilterSelector, MatchValue

        must_not = [FieldCondition(key="content_hash", match=MatchValue(value=keep_hash))] if keep_hash else None
        selector = FilterSelector(filter=Filter(must=[FieldCondition(key="source", match=MatchValue(value=source))],
                                                must_not=must_not))
        with self.session(write=True) as client:
            client.delete(self.collection, points_selector=selector, wait=True)
        self._wrote()

    def source_hashes(self) -> dict[str, str]:
        """source -> content hash of what is indexed (to skip unchanged files)."""
        found: dict[str, str] = {}
        with self.session() as client:
            if not client.collection_exists(self.collection):
                return {}
            offset = None
            while True:
                points, offset = client.scroll(self.collection, limit=512, offset=offset,
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

        conditions = qdrant_conditions(filters)
        if sources:
            conditions.append(FieldCondition(key="source", match=MatchAny(any=list(sources))))
        query_filter = Filter(must=conditions) if conditions else None
        with self.session() as client:
            if not client.collection_exists(self.collection):
                return []
            hits = client.query_points(self.collection, query=list(vector), limit=k, query_filter=query_filter,
                                       with_payload=True).points
        return [_to_chunk(h.payload, h.score) for h in hits]

    def iter_chunks(self, batch_size: int = 512) -> Iterator[ScoredChunk]:
        """Every chunk in the collection (score 0), in Qdrant's order; for lexical indexes."""
        for chunk, _ in self._scroll(batch_size, with_vectors=False):
            yield chunk

    def iter_chunks_with_vectors(self, batch_size: int = 512) -> Iterator[tuple[ScoredChunk, list[float]]]:
        """Every (chunk, vector) in the collection."""
        yield from self._scroll(batch_size, with_vectors=True)

    def snapshot(self) -> tuple[list[tuple[ScoredChunk, list[float]]], object]:
        """Every (chunk, vector) and the version they were read at, in one go (a shared folder is
        opened once and released before this returns)."""
        with self.session():
            return list(self._scroll(512, with_vectors=True)), self.version()

    def _scroll(self, batch_size: int, with_vectors: bool):
        with self.session() as client:
            if not client.collection_exists(self.collection):
                return
            found = []
            offset = None
            while True:
                points, offset = client.scroll(self.collection, limit=batch_size, offset=offset,
                                               with_payload=True, with_vectors=with_vectors)
                found += [(_to_chunk(p.payload, 0.0), p.vector) for p in points]
                if offset is None:
                    break
        yield from found


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
