"""Hybrid RAG: BM25 + dense retrieval fused by reciprocal rank, a second dense pass with
pseudo-relevance feedback, an optional reranker, answered with numbered citations: the pipeline
`python -m evals.retrieval` measured best (its "best pipeline" row).

    python -m apps.ask --mode rag_hybrid "How many days of annual leave do I get?"
    langgraph dev --no-browser                                     # graph "rag_hybrid" in Studio

    retrieve --(chunks found)--> generate_answer         (graphs.rag's answer + citation step)
             \\--(empty index / no match)--> answer_without_sources

Settings (search mode, reranker, candidates, model, collection) are in `context.py`.
"""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from graphs.rag import graph as rag_graph
from graphs.rag_hybrid.context import Context
from graphs.rag_hybrid.state import InputState, State
from models.messages import last_human_text


def retrieve(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    question = last_human_text(state.messages)
    feedback = context.feedback and context.search_mode == "hybrid"
    started = time.perf_counter()
    chunks = []
    if question.strip():
        kb = rag_graph.knowledge_base_for(context)
        chunks = kb.search(question, k=context.top_k, mode=context.search_mode, feedback=feedback,
                           rerank=context.reranker or None, candidates=context.candidates)
    retrieval = {"mode": context.search_mode, "feedback": feedback, "reranker": context.reranker or None,
                 "candidates": context.candidates, "ms": round(1000 * (time.perf_counter() - started), 1)}
    return {"question": question, "retrieved": chunks, "citations": [], "retrieval": retrieval}


builder = rag_graph.rag_builder(retrieve, State, InputState, Context)
graph = builder.compile(name="rag_hybrid")


def compile_rag_hybrid_graph(checkpointer=None):
    """The same graph with a checkpointer for multi-turn memory (apps use this)."""
    return builder.compile(checkpointer=checkpointer, name="rag_hybrid")
