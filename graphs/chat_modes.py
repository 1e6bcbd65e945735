"""The question-answering graphs the chat apps can switch between (`--mode` / the mode picker).

    python -m apps.ask --mode rag_agentic "Plan a 3-day trip to Lisbon"
    python -m apps.ask --mode rag_graph "Recommend a thriller starring an actor who also worked with Christopher Nolan"

Every mode is a graph package `graphs/<mode>/` with `graph.py` (a `builder` StateGraph whose
input is `{"messages": [...]}` and whose last message is the answer) and `context.py` (a
`Context` dataclass). A mode may name a demo corpus it indexes on first use.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class ChatMode:
    name: str
    title: str
    example: str
    prepare: str = ""  # "module:function" that indexes the demo data when empty; called with (context, progress)
    answer_nodes: tuple[str, ...] = ("generate_answer",)  # nodes whose streamed tokens are the answer
    hint: str = ""  # the chat box placeholder; default "e.g. <example>"
    demo_data: str = "the sample handbook (data/handbook)"  # what `prepare` indexes, for progress messages

    @property
    def placeholder(self) -> str:
        return self.hint or f"e.g. {self.example}"

    def graph_module(self):
        return importlib.import_module(f"graphs.{self.name}.graph")

    def context_class(self):
        return importlib.import_module(f"graphs.{self.name}.context").Context

    def make_context(self, **settings: Any):
        """The mode's Context from the settings it knows; None values and unknown names are left out."""
        cls = self.context_class()
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in settings.items() if k in known and v is not None})

    def compile(self, checkpointer=None):
        return self.graph_module().builder.compile(checkpointer=checkpointer, name=self.name)

    def prepare_data(self, context, progress: Callable | None = None):
        if not self.prepare:
            return None
        module, function = self.prepare.split(":")
        return getattr(importlib.import_module(module), function)(context, progress)


MODES: dict[str, ChatMode] = {m.name: m for m in [
    ChatMode("rag", "RAG: dense retrieval with cited evidence", "How many days of annual leave do I get?",
             "graphs.chat_modes:prepare_demo_collection", hint="Ask about leave, expenses, security, remote work…"),
    ChatMode("rag_hybrid", "RAG: hybrid BM25 + dense with feedback, cited", "How many days of annual leave do I get?",
             "graphs.chat_modes:prepare_demo_collection", hint="Ask about leave, expenses, security, remote work…"),
    ChatMode("rag_conversational", "Conversational RAG: follow-ups rewritten from the last turns",
             "How many days of annual leave do I get?", "graphs.chat_modes:prepare_demo_collection",
             hint="Ask, then follow up: “And how many can I carry over?”"),
    ChatMode("rag_agentic", "Agentic RAG: sub-questions retrieved in parallel, one cited answer", "Plan a 3-day trip to Lisbon",
             "graphs.chat_modes:prepare_demo_collection", answer_nodes=("synthesize_answer",),
             demo_data="the Lisbon travel guides (data/travel)",
             hint="Ask for a trip plan or a several-part question about Lisbon"),
    ChatMode("rag_graph", "Graph RAG: people, films and genres in a graph store, read-only Cypher with cited paths",
             "Recommend a thriller starring an actor who also worked with Christopher Nolan",
             "rag.graph_ingest:prepare_movies", answer_nodes=(), demo_data="the film descriptions (data/movies)"),
]}


def prepare_demo_collection(context, progress=None):
    """Index a demo collection's bundled documents ("handbook", "travel") when the context names it and it is empty."""
    from rag.answering import knowledge_base_for
    from rag.demo import demo_corpus, ensure_demo_corpus

    if demo_corpus(getattr(context, "collection", "")) is None:
        return None
    return ensure_demo_corpus(knowledge_base_for(context), progress)


class UnknownModeError(ValueError):
    pass


def get_mode(name: str) -> ChatMode:
    try:
        return MODES[name]
    except KeyError:
        raise UnknownModeError(f"Unknown mode {name!r}. Choose one of: {', '.join(MODES)}.") from None
