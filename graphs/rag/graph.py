"""RAG chat: retrieve chunks from a Qdrant collection, answer with numbered citations.

    python -m apps.ask "How many days of annual leave do I get?"     # CLI
    python -m apps.chat                                              # Streamlit
    langgraph dev --no-browser                                       # graph "rag" in Studio

    retrieve --(chunks found)--> generate_answer
             \--(empty index / no match)--> answer_without_sources

Memory across turns comes from the checkpointer the graph is compiled with
(`graphs.checkpointing.open_checkpointer`): pass `{"configurable": {"thread_id": ...}}`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from graphs.rag import prompts
from graphs.rag.context import Context
from graphs.rag.state import InputState, State
from models.messages import last_human_text
from rag.evidence import attribute, select_evidence
from rag.knowledge_base import KnowledgeBase

CITATION = re.compile(r"\[(\d+)\]")


@lru_cache(maxsize=8)
def knowledge_base(collection: str, location: str, embeddings: str) -> KnowledgeBase:
    return KnowledgeBase(collection=collection, location=location or None, embeddings=embeddings)


def knowledge_base_for(context: Context) -> KnowledgeBase:
    return knowledge_base(context.collection, context.index_location, context.embeddings)


def retrieve(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    question = last_human_text(state.messages)
    chunks = knowledge_base_for(context).search(question, k=context.top_k) if question else []
    return {"question": question, "retrieved": chunks, "citations": []}


def route_after_retrieve(state: State) -> Literal["generate_answer", "answer_without_sources"]:
    return "generate_answer" if state.retrieved else "answer_without_sources"


def answer_without_sources(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    empty = knowledge_base_for(context).count() == 0
    template = prompts.NO_INDEX_ANSWER if empty else prompts.NO_MATCH_ANSWER
    return {"messages": [AIMessage(content=template.format(collection=context.collection))]}


def _history(messages: list[BaseMessage], turns: int) -> list[BaseMessage]:
    """The last `turns` question/answer pairs before the current question, answers without their source lists."""
    earlier = [m for m in messages[:-1] if m.type in ("human", "ai")]
    kept = earlier[-2 * turns:] if turns > 0 else []
    return [AIMessage(content=m.additional_kwargs.get("answer_text", m.text)) if m.type == "ai" else m for m in kept]


def _sources_text(question: str, retrieved: list, context: Context, kb: KnowledgeBase) -> tuple[str, list]:
    """The numbered sources the model sees, and the evidence sentences ranked best first."""
    limit = context.evidence_limit()
    evidence = select_evidence(question, retrieved, kb.embeddings, limit=max(limit, 2 * len(retrieved)))
    if limit > 0 and evidence:
        # best first, as measured; each sentence keeps its chunk's number
        return "\n".join(prompts.EVIDENCE_SOURCE.format(number=e.number, sentence=e.sentence)
                         for e in evidence[:limit]), evidence
    text = "\n\n".join(
        prompts.CHUNK_SOURCE.format(number=i, title=c.title or c.label, text=c.text.strip())
        for i, c in enumerate(retrieved, start=1)
    )
    return text, evidence


def answer_with_citations(question: str, retrieved: list, context: Context,
                          history: list[BaseMessage] | None = None) -> tuple[AIMessage, list[dict]]:
    """Ask the chat model to answer `question` from the numbered `retrieved` chunks; returns the
    answer message (text + source list; `additional_kwargs["answer_text"]` holds the bare answer)
    and the citation records. Other RAG graphs call this with the chunks they found.

    `context` is this graph's Context or any dataclass with the same fields (model, collection,
    index_location, embeddings, evidence_sentences, history_turns)."""
    from models import load_chat_model

    sources, evidence = _sources_text(question, retrieved, context, knowledge_base_for(context))
    messages = [SystemMessage(content=prompts.SYSTEM_PROMPT), *(history or []),
                HumanMessage(content=prompts.USER_PROMPT.format(sources=sources, question=question))]
    reply = load_chat_model(context.model).invoke(messages)
    answer = reply.text.strip()
    cited = {int(n) for n in CITATION.findall(answer) if 1 <= int(n) <= len(retrieved)}
    cited_by = "model"
    if not cited and (restated := attribute(answer, evidence)) is not None:
        # The model restated a source without its marker: cite the source it restated.
        answer, cited, cited_by = f"{answer} [{restated}]", {restated}, "overlap"
    best_sentence: dict[int, str] = {}
    for e in evidence:
        best_sentence.setdefault(e.number, e.sentence)
    citations = [
        {"number": i, "source": c.source, "label": c.label, "chunk_index": c.chunk_index, "score": round(c.score, 4),
         "cited": i in cited, "cited_by": cited_by if i in cited else None, "evidence": best_sentence.get(i, ""),
         "text": c.text}
        for i, c in enumerate(retrieved, start=1)
    ]
    shown = [c for c in citations if c["cited"]] or citations
    heading = "Sources:" if cited else "Sources consulted:"
    footer = "\n".join(f"[{c['number']}] {c['label']}" for c in shown)
    message = AIMessage(content=f"{answer}\n\n{heading}\n{footer}", additional_kwargs={"answer_text": answer},
                        response_metadata=reply.response_metadata, usage_metadata=getattr(reply, "usage_metadata", None))
    return message, citations


def generate_answer(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    message, citations = answer_with_citations(state.question, state.retrieved, context,
                                               _history(state.messages, context.history_turns))
    return {"messages": [message], "citations": citations}


def rag_builder(retrieve_node=retrieve, state_schema=State, input_schema=InputState, context_schema=Context) -> StateGraph:
    """retrieve -> generate_answer | answer_without_sources, with any retrieval step (rag_hybrid
    passes its own) and State/Context classes that extend this graph's."""
    wiring = StateGraph(state_schema, input_schema=input_schema, context_schema=context_schema)
    wiring.add_node("retrieve", retrieve_node)
    wiring.add_node(generate_answer)
    wiring.add_node(answer_without_sources)
    wiring.add_edge(START, "retrieve")
    wiring.add_conditional_edges("retrieve", route_after_retrieve)
    wiring.add_edge("generate_answer", END)
    wiring.add_edge("answer_without_sources", END)
    return wiring


builder = rag_builder()
graph = builder.compile(name="rag")


def compile_rag_graph(checkpointer=None):
    """The same graph with a checkpointer for multi-turn memory (apps use this)."""
    return builder.compile(checkpointer=checkpointer, name="rag")
