"""Conversational RAG: rewrite a follow-up into a standalone question from the last K turns,
retrieve for it, answer with numbered citations.

    python -m apps.ask --mode rag_conversational --thread me "How many days of annual leave do I get?"
    python -m apps.ask --mode rag_conversational --thread me "And how many can I carry over?"
    langgraph dev --no-browser                       # graph "rag_conversational" in Studio

    rewrite_question --> retrieve --> check_answerability --(covered)--> generate_answer
                                                       \\--(not covered)--> abstain
                                                       \\--(empty index / no match)--> answer_without_sources

"and how much does it cost?" after "What is tram 28?" is searched as a question about tram 28.
A question that names its own subject is searched unchanged (no model call). For a follow-up
the model is asked for `{"question": ...}` (structured output); its rewrite is used only when it
keeps the follow-up's content words and names the earlier topic, otherwise the follow-up is
prefixed with the earlier question's keywords ("About tram 28: and how much does it cost?"),
which is what the bundled 135M model usually needs. Only the last `history_turns` turns count.

The answering step is `rag.answering`'s, as in the `rag` graph; on the bundled 135M model it sees the standalone
question without the earlier turns (`answer_history_turns`): shown them, it repeats or
invents (measured on three follow-ups over the handbook and the travel guides: with the turns
in the prompt 2 of 3 answers were wrong, one a copy of the previous answer; without them all 3
answered from the right sentence).

Memory across turns comes from the checkpointer (`graphs.checkpointing.open_checkpointer`):
pass `{"configurable": {"thread_id": ...}}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from graphs.rag_conversational import prompts
from graphs.rag_conversational.context import Context
from graphs.rag_conversational.state import InputState, State
from models.messages import last_human_text
from rag import answerability, answering
from rag.answering import knowledge_base_for
from rag.demo import ensure_demo_corpus
from rag.evidence import content_words

# Pronouns that point back into the conversation instead of naming their subject, and (for
# keyword extraction only) the vaguer words that do the same ("there", "more", "else").
POINTING_WORDS = frozenset("it its itself that this those these they them their theirs he him his she her one ones same".split())
REFERRING_WORDS = POINTING_WORDS | frozenset("there then also too else other another more".split())
FOLLOW_UP_OPENERS = ("and ", "and,", "what about", "how about", "also ", "but ", "so ", "then ", "or ")
_WORD = re.compile(r"[\w'’]+")
MAX_TOPIC_WORDS = 6


class StandaloneQuestion(BaseModel):
    """The follow-up rewritten so that it needs no conversation to be understood."""

    question: str = Field(description="one self-contained question")


@dataclass
class Turn:
    """One earlier question/answer pair of the conversation."""

    asked: str
    standalone: str  # the question as it was searched (the rewrite, when there was one)
    answer: str


def recent_turns(messages: list[BaseMessage], turns: int) -> list[Turn]:
    """The last `turns` completed question/answer pairs before the current question, oldest first."""
    pairs: list[Turn] = []
    pending: str | None = None
    for message in messages[:-1]:
        if message.type == "human":
            pending = str(message.text)
        elif message.type == "ai" and pending is not None:
            extra = message.additional_kwargs
            pairs.append(Turn(pending, extra.get("standalone_question") or pending, extra.get("answer_text", str(message.text))))
            pending = None
    return pairs[-turns:] if turns > 0 else []


def is_follow_up(question: str) -> bool:
    """Whether the question leans on the conversation: it opens like a continuation ("and ..."),
    names at most one thing of its own, or points back ("it", "that one") and names few.

    >>> [is_follow_up(q) for q in ["and how much does it cost?", "What is tram 28?", "Opening hours?"]]
    [True, False, False]
    """
    lowered = question.strip().lower()
    words = {w.strip("'’") for w in _WORD.findall(lowered)}
    own_words = content_words(question) - REFERRING_WORDS
    return (lowered.startswith(FOLLOW_UP_OPENERS) or len(own_words) <= 1
            or (bool(words & POINTING_WORDS) and len(own_words) <= 3))


def topic_keywords(question: str, exclude: set[str] = frozenset()) -> list[str]:
    """The question's content words in their original order and spelling, without repeats,
    referring words or words in `exclude` (compared lower-cased).

    >>> topic_keywords("What is tram 28 and where does it stop?", exclude={"stop"})
    ['tram', '28']
    """
    keywords: list[str] = []
    for word in _WORD.findall(question):
        lowered = word.lower()
        if (content_words(word) and lowered not in REFERRING_WORDS and lowered not in exclude
                and lowered not in (k.lower() for k in keywords)):
            keywords.append(word)
    return keywords[:MAX_TOPIC_WORDS]


def earlier_topic(question: str, turns: list[Turn]) -> str:
    """Keywords of the most recent earlier question that adds something to `question`."""
    own = {w.lower() for w in _WORD.findall(question)} | {"about"}  # "about": from an earlier keyword rewrite
    for turn in reversed(turns):
        if keywords := topic_keywords(turn.standalone, exclude=own):
            return " ".join(keywords)
    return ""


def keyword_rewrite(question: str, topic: str) -> str:
    """The follow-up prefixed with the earlier topic (unchanged when there is none).

    >>> keyword_rewrite("and how much does it cost?", "tram 28")
    'About tram 28: and how much does it cost?'
    """
    return prompts.KEYWORD_REWRITE.format(topic=topic, question=question.strip()) if topic else question.strip()


def accept_rewrite(rewrite: str, question: str, topic: str) -> bool:
    """A model's rewrite is kept when it is a short question that keeps at least half of the
    follow-up's own content words and names the earlier topic (one of its content words).

    >>> accept_rewrite("How much does a ride on tram 28 cost?", "and how much does it cost?", "tram 28")
    True
    >>> accept_rewrite("What is tram 28?", "and how much does it cost?", "tram 28")
    False
    """
    rewritten = content_words(rewrite)
    own = content_words(question) - REFERRING_WORDS
    if not rewrite.strip() or len(rewrite.split()) > 40:
        return False
    if own and len(own & rewritten) / len(own) < 0.5:
        return False
    return not topic or bool(rewritten & content_words(topic))


def generate_standalone_question(question: str, turns: list[Turn], model_spec: str) -> str | None:
    """The chat model's rewrite of `question` given the earlier turns, or None when it produced
    nothing usable (invalid JSON, an empty field)."""
    from models import load_chat_model

    conversation = "\n".join(
        line for turn in turns for line in (prompts.CONVERSATION_LINE.format(speaker="User", text=turn.standalone),
                                            prompts.CONVERSATION_LINE.format(speaker="Assistant", text=turn.answer)))
    messages = [SystemMessage(content=prompts.REWRITE_SYSTEM_PROMPT),
                HumanMessage(content=prompts.REWRITE_USER_PROMPT.format(conversation=conversation, question=question))]
    model = load_chat_model(model_spec).with_structured_output(StandaloneQuestion)
    try:
        result = model.invoke(messages)
    except Exception:  # noqa: BLE001 - a small model's unusable JSON must not end the turn: the keyword fallback answers
        return None
    text = result.question if isinstance(result, StandaloneQuestion) else str((result or {}).get("question", ""))
    return text.strip() or None


def rewrite_question(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    asked = last_human_text(state.messages).strip()
    turns = recent_turns(state.messages, context.history_turns)
    question, rewritten_by = asked, "unchanged"
    if turns and asked and is_follow_up(asked):
        topic = earlier_topic(asked, turns)
        candidate = generate_standalone_question(asked, turns, context.model) if context.rewrite_with == "model" else None
        if candidate and accept_rewrite(candidate, asked, topic):
            question, rewritten_by = candidate, "model"
        elif topic:
            question, rewritten_by = keyword_rewrite(asked, topic), "keywords"
    return {"asked": asked, "question": question, "rewritten_by": rewritten_by, "retrieved": [], "citations": []}


def retrieve(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    kb = knowledge_base_for(context)
    ensure_demo_corpus(kb)
    return {"retrieved": kb.search(state.question, k=context.top_k) if state.question else []}


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


def generate_answer(state: State, runtime: Runtime[Context]) -> dict:
    """The cited answer to the standalone question, shown `answer_history()` earlier turns; the
    message also records that question so that the next turn can build on it."""
    context = runtime.context or Context()
    message, citations = answering.answer_from_context(context, knowledge_base_for(context), state.question, state.retrieved, state.messages,
                                                       history_turns=context.answer_history())
    message.additional_kwargs.update(standalone_question=state.question, rewritten_by=state.rewritten_by)
    return {"messages": [message], "citations": citations}


def answer_without_sources(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    return {"messages": [answering.answer_without_sources(knowledge_base_for(context), context.collection)]}


builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(rewrite_question)
builder.add_node(retrieve)
builder.add_node(check_answerability)
builder.add_node(generate_answer)
builder.add_node(abstain)
builder.add_node(answer_without_sources)
builder.add_edge(START, "rewrite_question")
builder.add_edge("rewrite_question", "retrieve")
builder.add_edge("retrieve", "check_answerability")
builder.add_conditional_edges("check_answerability", route_after_check)
builder.add_edge("generate_answer", END)
builder.add_edge("abstain", END)
builder.add_edge("answer_without_sources", END)

graph = builder.compile(name="rag_conversational")
