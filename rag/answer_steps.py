"""The answer half every retrieval graph shares, wired onto its builder after its own retrieval:

    retrieve --> check_answerability --(sources cover the question)--> generate_answer
                                     \\--(they do not: say what the collection covers)--> abstain
                                     \\--(empty index / no match)--> answer_without_sources

    builder = StateGraph(State, input_schema=InputState, context_schema=Context)
    builder.add_node(retrieve)                        # the graph's own retrieval
    builder.add_edge(START, "retrieve")
    add_answer_steps(builder, Context, after="retrieve")

A graph whose answer differs (the conversational one records its standalone question) passes its
own `generate_answer` node. The state needs `question`, `retrieved`, `answerability`, `messages`
and `citations`; the Context the fields `rag.answering.knowledge_base_for` and `answerability`
read, and `model`.
"""

from __future__ import annotations

from typing import Callable, Literal

from langgraph.graph import END, StateGraph

from rag import answerability, answering
from rag.answering import knowledge_base_for


def add_answer_steps(builder: StateGraph, Context: type, *, after: str, generate_answer: Callable | None = None,
                     knowledge_base: Callable = knowledge_base_for) -> None:
    """Add check_answerability, generate_answer, abstain and answer_without_sources after the node `after`.
    `knowledge_base(context)` opens the collection the nodes read (the graph passes its own lookup)."""

    def check_answerability(state, runtime) -> dict:
        """Do the retrieved chunks cover the question? (names and terms the collection lacks, similarity)"""
        context = runtime.context or Context()
        verdict = answerability.check(state.question, state.retrieved, knowledge_base(context),
                                      context.answerability, context.model)
        return {"answerability": verdict.as_dict()}

    def route_after_check(state) -> Literal["generate_answer", "abstain", "answer_without_sources"]:
        if not state.retrieved:
            return "answer_without_sources"
        return "generate_answer" if state.answerability.get("answerable", True) else "abstain"

    def cited_answer(state, runtime) -> dict:
        context = runtime.context or Context()
        message, citations = answering.answer_from_context(context, knowledge_base(context), state.question,
                                                           state.retrieved, state.messages)
        return {"messages": [message], "citations": citations}

    def abstain(state, runtime) -> dict:
        """Say that the collection does not cover the question, and what it does cover; cite nothing."""
        context = runtime.context or Context()
        verdict = answerability.Assessment(**dict(state.answerability))
        return {"messages": [answerability.abstention_reply(verdict, knowledge_base(context), context.collection)],
                "citations": []}

    def answer_without_sources(state, runtime) -> dict:
        context = runtime.context or Context()
        return {"messages": [answering.answer_without_sources(knowledge_base(context), context.collection)]}

    builder.add_node(check_answerability)
    builder.add_node("generate_answer", generate_answer or cited_answer)
    builder.add_node(abstain)
    builder.add_node(answer_without_sources)
    builder.add_edge(after, "check_answerability")
    builder.add_conditional_edges("check_answerability", route_after_check)
    for node in ("generate_answer", "abstain", "answer_without_sources"):
        builder.add_edge(node, END)
