"""RAG chat: retrieve chunks from a Qdrant collection, answer with numbered citations.

    python -m apps.ask "How many days of annual leave do I get?"     # CLI
    python -m apps.chat                                              # Streamlit
    langgraph dev --no-browser                                       # graph "rag" in Studio

    retrieve --> check_answerability --(sources cover the question)--> generate_answer
                                     \\--(they do not: say what the collection covers)--> abstain
                                     \\--(empty index / no match)--> answer_without_sources

The parts live in `rag/`: the knowledge base (`rag.answering.open_knowledge_base`) and the cited
answer (`rag.answering.answer_with_citations`). Memory across turns comes from the checkpointer the
graph is compiled with (`graphs.checkpointing.open_checkpointer`): pass
`{"configurable": {"thread_id": ...}}`.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from graphs.rag.context import Context
from graphs.rag.state import InputState, State
from models.messages import last_human_text
from rag import answerability, answering
from rag.answering import knowledge_base_for


def retrieve(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    question = last_human_text(state.messages)
    chunks = knowledge_base_for(context).search(question, k=context.top_k) if question else []
    return {"question": question, "retrieved": chunks, "citations": []}


def check_answerability(state: State, runtime: Runtime[Context]) -> dict:
    """Do the retrieved chunks cover the question? (names and terms the collection lacks, similarity)"""
    context = runtime.context or Context()
    verdict = answerability.check(state.question, state.retrieved, knowledge_base_for(context),
                                  context.answerability, context.model)
    return {"answerability": verdict.as_dict()}


def route_after_check(state: State) -> Literal["generate_answer", "abstain", "answer_without_sources"]:
    if not state.retrieved:
        return "answer_without_sources"
    return "generate_answer" if state.answerability.get("answerable", True) else "abstain"


def abstain(state: State, runtime: Runtime[Context]) -> dict:
    """Say that the collection does not cover the question, and what it does cover; cite nothing."""
    context = runtime.context or Context()
    verdict = answerability.Assessment(**{k: v for k, v in state.answerability.items()})
    return {"messages": [answerability.abstention_reply(verdict, knowledge_base_for(context), context.collection)],
            "citations": []}


def answer_without_sources(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    return {"messages": [answering.answer_without_sources(knowledge_base_for(context), context.collection)]}


def generate_answer(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    message, citations = answering.answer_from_context(context, knowledge_base_for(context), state.question, state.retrieved, state.messages)
    return {"messages": [message], "citations": citations}


builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(retrieve)
builder.add_node(check_answerability)
builder.add_node(generate_answer)
builder.add_node(abstain)
builder.add_node(answer_without_sources)
builder.add_edge(START, "retrieve")
builder.add_edge("retrieve", "check_answerability")
builder.add_conditional_edges("check_answerability", route_after_check)
builder.add_edge("generate_answer", END)
builder.add_edge("abstain", END)
builder.add_edge("answer_without_sources", END)

graph = builder.compile(name="rag")


def compile_rag_graph(checkpointer=None):
    """The same graph with a checkpointer for multi-turn memory (apps use this)."""
    return builder.compile(checkpointer=checkpointer, name="rag")
