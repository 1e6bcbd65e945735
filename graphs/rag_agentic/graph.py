"""Agentic RAG: split a complex request into sub-questions, retrieve for each in parallel
(LangGraph `Send`, map-reduce), write one answer cited over the union of the sources.

    python -m apps.ask --mode rag_agentic "Plan a 3-day trip to Lisbon"
    langgraph dev --no-browser                       # graph "rag_agentic" in Studio

    plan_sub_questions --Send x N--> retrieve_for_sub_question --> synthesize_answer
                       \\--(a place or topic the collection never mentions)--> abstain
                       \\--(empty index)--> answer_without_sources

"Plan a 2-day trip to Porto" over the Lisbon guides is not planned: the guides never mention
Porto, so the answer says so and what they do cover (`rag.answerability.check_scope`). A request
whose every branch finds only distant chunks is refused the same way.

Planning: a trip plan ("Plan a 3-day trip to Lisbon", "2 days in Porto: itinerary?") on the
bundled 135M model gets a template plan, one theme per day searched with generic questions
("Which palace is worth a day trip by train?") plus food and transport; other
requests ask the model for a JSON list of at most `max_sub_questions` questions (structured
output), keep those that are distinct questions about the request, and otherwise split
the request at "?", ";" and "and". Synthesis: on the 135M model the answer is composed from the
best evidence sentences of each branch (`rag.evidence.select_evidence`), under "Day 1..N"
headings for plans, each sentence cited; larger models write it from the numbered sources, and
fall back to that composition when they cite nothing or skip a day. A chunk found by several
branches is one source with one number.

The collection "travel" (the default; data/travel/guides) and "handbook" are indexed on first use.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send
from pydantic import BaseModel, Field

from graphs.rag_agentic import prompts
from graphs.rag_agentic.context import Context
from graphs.rag_agentic.state import InputState, State, SubQuestionTask
from models.messages import last_human_text
from rag import answerability, answering
from rag.answering import CITATION, CHUNK_SOURCE, knowledge_base_for
from rag.demo import ensure_demo_corpus, trip_parts, trip_themes
from rag.evidence import content_words, select_evidence

EVIDENCE_PER_BRANCH = 8  # spare sentences, so that parts sharing a chunk still find unused ones


# ---- planning ---------------------------------------------------------------------------------

_DAYS = re.compile(r"\b(\d+|one|two|three|four|five|six|seven)[- ]days?\b", re.IGNORECASE)
_WEEKEND = re.compile(r"\bweekend\b", re.IGNORECASE)
_PLAN_REQUEST = re.compile(r"\b(plan|planning|itinerary|schedule)\b|\bweekend (in|trip)\b|" + _DAYS.pattern, re.IGNORECASE)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_PLACE = re.compile(r"\b(?:to|in|around|of|for)\s+((?:[A-Z][\w'’-]+)(?:\s+[A-Z][\w'’-]+)*)")
_QUESTION_START = re.compile(r"(what|which|how|when|where|who|why|is|are|do|does|can|could|should|will)\b", re.IGNORECASE)
_SPLIT = re.compile(r"\?\s*|;\s*|\band\b", re.IGNORECASE)


class SubQuestions(BaseModel):
    """A complex request split into simpler questions."""

    questions: list[str] = Field(description="short self-contained questions, one per part of the request")


def is_plan_request(question: str) -> bool:
    """Whether the request asks for a trip plan or itinerary: it says plan / itinerary /
    schedule, or a number of days, or a weekend in or trip somewhere.

    >>> [is_plan_request(q) for q in ["Plan a 3-day trip to Lisbon", "Two days in Porto?", "A weekend in Rome",
    ...                               "Which palace is worth a day trip?", "What museums should I visit?"]]
    [True, True, True, False, False]
    """
    return bool(_PLAN_REQUEST.search(question))


def plan_days(question: str, default: int = 3) -> int:
    """How many days the plan is for: the number given, 2 for a weekend, else `default`.

    >>> plan_days("Plan a 3-day trip to Lisbon"), plan_days("two days in Porto"), plan_days("a weekend trip"), plan_days("Plan my trip")
    (3, 2, 2, 3)
    """
    found = _DAYS.search(question)
    if not found:
        return 2 if _WEEKEND.search(question) else default
    word = found.group(1).lower()
    return max(1, int(word) if word.isdigit() else _NUMBER_WORDS[word])


def plan_place(question: str) -> str:
    """The capitalised place after "to", "in", "around", "of" or "for", else "the city".

    >>> plan_place("Plan a 3-day trip to Lisbon"), plan_place("what to do for a weekend")
    ('Lisbon', 'the city')
    """
    found = _PLACE.search(question)
    return found.group(1) if found else prompts.DEFAULT_PLACE


def template_trip_plan(question: str, limit: int) -> tuple[list[str], list[str]]:
    """(sub_questions, parts) of a trip plan: the themes of the first days (at most as many days
    as there are themes), then food and transport; under `limit`, each day keeps its first
    question before any day gets a second one."""
    themes = trip_themes()
    place, days = plan_place(question), min(plan_days(question), len(themes))
    candidates = []  # (priority, order, part, question)
    for day, (theme, questions) in enumerate(themes[:days], start=1):
        for rank, text in enumerate(questions):
            candidates.append((rank * 2, len(candidates), prompts.DAY_TITLE.format(day=day, theme=theme), text))
    for title, text in trip_parts():
        candidates.append((1, len(candidates), title, text))
    kept = sorted(sorted(candidates)[:max(1, limit)], key=lambda c: c[1])
    return [c[3].format(place=place) for c in kept], [c[2] for c in kept]


def split_question(question: str, limit: int) -> list[str]:
    """The parts of a compound question that each name something of their own, else the question.

    >>> split_question("How much is tram 28 and when does the castle open?", 4)
    ['How much is tram 28?', 'when does the castle open?']
    """
    pieces = [p.strip(" ,.") for p in _SPLIT.split(question) if p and p.strip(" ,.")]
    parts = [f"{p}?" for p in pieces if len(content_words(p)) >= 2]
    return parts[:limit] if len(parts) >= 2 else [question.strip()]


def accept_sub_questions(candidates: list[str], question: str, limit: int) -> list[str]:
    """The model's sub-questions that are questions, at least two content words long, share a
    content word with the request and ask for more than an earlier one; at most `limit`.

    >>> accept_sub_questions(["How much is tram 28?", "Tram 28 price", "What is the price of tram 28?",
    ...                       "How much is tram 28 per ride?", "Is tram 28 fun?", "Why is the sky blue?"],
    ...                      "How much is tram 28?", 3)
    ['How much is tram 28?', 'What is the price of tram 28?', 'How much is tram 28 per ride?']
    """
    wanted, kept = content_words(question), []
    for text in candidates:
        text = " ".join(str(text).split())
        words = content_words(text)
        if (len(words) >= 2 and words & wanted and (text.endswith("?") or _QUESTION_START.match(text))
                and not any(words <= content_words(earlier) for earlier in kept)):
            kept.append(text)
    return kept[:limit]


def generate_sub_questions(question: str, context: Context) -> list[str]:
    from models import load_chat_model

    limit = context.max_sub_questions
    model = load_chat_model(context.model).with_structured_output(SubQuestions)
    messages = [SystemMessage(content=prompts.PLAN_SYSTEM_PROMPT.format(limit=limit)),
                HumanMessage(content=prompts.PLAN_USER_PROMPT.format(question=question))]
    try:
        result = model.invoke(messages)
    except Exception:  # noqa: BLE001 - unusable JSON from a small model: the template planner takes over
        return []
    questions = result.questions if isinstance(result, SubQuestions) else (result or {}).get("questions", [])
    return accept_sub_questions(questions, question, limit)


def plan_sub_questions(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    question = last_human_text(state.messages).strip()
    start = {"question": question, "findings": [], "retrieved": [], "citations": [], "answerability": {}}
    kb = knowledge_base_for(context)
    ensure_demo_corpus(kb)
    if not question or kb.count() == 0:
        return {**start, "sub_questions": [], "parts": [], "planned_by": "", "is_plan": False}
    scope = answerability.check_scope(question, kb, context.answerability)
    if not scope.answerable:  # a place or topic the collection never mentions: nothing to plan from
        return {**start, "sub_questions": [], "parts": [], "planned_by": "", "is_plan": is_plan_request(question),
                "answerability": scope.as_dict()}
    is_plan, limit = is_plan_request(question), max(1, context.max_sub_questions)
    sub_questions: list[str] = []
    planned_by = "model"
    if context.planner_mode(is_plan) == "model":
        sub_questions = generate_sub_questions(question, context)
    if sub_questions:
        parts = list(sub_questions)
    elif is_plan:
        (sub_questions, parts), planned_by = template_trip_plan(question, limit), "template"
    else:
        sub_questions, planned_by = split_question(question, limit), "split"
        parts = list(sub_questions)
    return {**start, "sub_questions": sub_questions, "parts": parts, "planned_by": planned_by, "is_plan": is_plan}


def route_sub_questions(state: State) -> list[Send] | Literal["answer_without_sources", "abstain"]:
    """One retrieval branch per sub-question, all in the same step (map); none: explain why."""
    if state.answerability and not state.answerability.get("answerable", True):
        return "abstain"
    if not state.sub_questions:
        return "answer_without_sources"
    return [Send("retrieve_for_sub_question", SubQuestionTask(index=i, sub_question=q))
            for i, q in enumerate(state.sub_questions)]


# ---- retrieval (one branch per sub-question) -------------------------------------------------

def retrieve_for_sub_question(task: SubQuestionTask, runtime: Runtime[Context]) -> dict:
    """Search for one sub-question and rank its evidence sentences; numbers in `evidence` are
    1-based positions in this branch's `chunks`."""
    context = runtime.context or Context()
    kb = knowledge_base_for(context)
    chunks = kb.search(task["sub_question"], k=context.top_k)
    evidence = select_evidence(task["sub_question"], chunks, kb.embeddings, limit=EVIDENCE_PER_BRANCH) if chunks else []
    return {"findings": [{"index": task["index"], "sub_question": task["sub_question"], "chunks": chunks,
                          "evidence": [(e.number, e.sentence, e.score) for e in evidence]}]}


def answer_without_sources(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    return {"messages": [answering.answer_without_sources(knowledge_base_for(context), context.collection)]}


def abstain(state: State, runtime: Runtime[Context]) -> dict:
    """Say that the collection does not cover the request (a place or topic it never mentions), and what it covers."""
    context = runtime.context or Context()
    verdict = answerability.Assessment(**state.answerability)
    return {"messages": [answerability.abstention_reply(verdict, knowledge_base_for(context), context.collection)],
            "citations": []}


def covered_findings(state: State, context: Context) -> tuple[list[dict], answerability.Assessment | None]:
    """The measured answerability check per sub-question over its own branch's sources: the findings
    the sources cover, and when none is covered the verdict to abstain with. Plans are not checked
    here (their days and themes are not in the guides by nature; their place was checked before
    retrieval)."""
    if state.is_plan or context.answerability == "off":
        return state.findings, None
    kb = knowledge_base_for(context)
    verdicts = [answerability.check(f["sub_question"], f["chunks"], kb, context.answerability, context.model)
                for f in state.findings]
    covered = [f for f, verdict in zip(state.findings, verdicts) if verdict.answerable]
    return covered, None if covered or not verdicts else verdicts[0]


# ---- synthesis (reduce) ----------------------------------------------------------------------

def _key(chunk) -> tuple[str, int]:
    return chunk.source, chunk.chunk_index


def union_of_sources(findings: list[dict]) -> dict[tuple[str, int], object]:
    """Every retrieved chunk once, in sub-question order then rank (insertion-ordered)."""
    union: dict[tuple[str, int], object] = {}
    for finding in sorted(findings, key=lambda f: f["index"]):
        for chunk in finding["chunks"]:
            union.setdefault(_key(chunk), chunk)
    return union


_LEANS_ON_CONTEXT = re.compile(r"^(it|its|this|that|these|those|they|their|the same|there|here)\b", re.IGNORECASE)


def _is_prose(sentence: str) -> bool:
    """A full sentence or list item that makes sense alone: not a heading, a table row, or a
    sentence that leans on the one before ("The same train stops at ...").

    >>> [_is_prose(s) for s in ["Sights in Belém", "The same train stops at Belém.", "Tram 28 costs €3.20 a ride."]]
    [False, False, True]
    """
    return ("|" not in sentence and sentence.rstrip().endswith((".", "!", "?")) and len(sentence.split()) >= 5
            and not _LEANS_ON_CONTEXT.match(sentence))


def compose_parts(state: State, per_sub_question: int) -> list[tuple[str, list[tuple[str, tuple]]]]:
    """[(part title, [(sentence, source key), ...]), ...]: for each sub-question its best
    evidence sentences not used by an earlier part, grouped under the sub-question's part."""
    used: set[str] = set()
    parts: dict[str, list] = {title: [] for title in state.parts}
    for finding in sorted(state.findings, key=lambda f: f["index"]):
        title, taken = state.parts[finding["index"]], 0
        for number, sentence, _score in finding["evidence"]:
            if taken == per_sub_question:
                break
            if _is_prose(sentence) and sentence not in used:
                used.add(sentence)
                parts[title].append((sentence, _key(finding["chunks"][number - 1])))
                taken += 1
    return list(parts.items())


def numbering(union: dict, cited_in_order: list[tuple]) -> dict[tuple, int]:
    """Source numbers: cited chunks first, in the order of their first citation, then the rest.

    >>> numbering({"a": 1, "b": 2, "c": 3}, ["c", "a", "c"])
    {'c': 1, 'a': 2, 'b': 3}
    """
    order = list(dict.fromkeys([*cited_in_order, *union]))
    return {key: number for number, key in enumerate(order, start=1)}


def template_answer(state: State, context: Context, union: dict) -> tuple[str, dict[tuple, int], set[int]]:
    composed = compose_parts(state, max(1, context.sentences_per_sub_question))
    numbers = numbering(union, [key for _, items in composed for _, key in items])
    if state.is_plan and state.planned_by == "template":
        intro = prompts.PLAN_INTRO.format(days=sum(t.startswith("Day ") for t in dict.fromkeys(state.parts)),
                                          place=plan_place(state.question), collection=context.collection)
    else:
        intro = prompts.ANSWER_INTRO.format(collection=context.collection)
    blocks = [intro]
    for title, items in composed:
        lines = [prompts.PART_ITEM.format(sentence=s, number=numbers[k]) for s, k in items] or [prompts.PART_NOTHING_FOUND]
        blocks.append("\n".join([prompts.PART_HEADING.format(title=title), *lines]))
    return "\n\n".join(blocks), numbers, {numbers[k] for _, items in composed for _, k in items}


def generate_synthesis(state: State, context: Context, union: dict) -> tuple[str, dict[tuple, int], set[int]] | None:
    """The model's answer over all sources numbered in union order, or None when it cites no
    source or (for a plan) leaves out a day."""
    from models import load_chat_model

    numbers = numbering(union, [])
    sources = "\n\n".join(CHUNK_SOURCE.format(number=numbers[k], title=c.title or c.label, text=c.text.strip())
                          for k, c in union.items())
    days = sum(t.startswith("Day ") for t in dict.fromkeys(state.parts)) if state.is_plan else 0
    shape = prompts.PLAN_SHAPE.format(days=days or plan_days(state.question)) if state.is_plan else ""
    messages = [SystemMessage(content=prompts.SYNTHESIS_SYSTEM_PROMPT),
                HumanMessage(content=prompts.SYNTHESIS_USER_PROMPT.format(
                    sources=sources, parts="\n".join(f"- {p}" for p in dict.fromkeys(state.parts)),
                    question=state.question, shape=shape))]
    answer = str(load_chat_model(context.model).invoke(messages).text).strip()
    cited = {int(n) for n in CITATION.findall(answer) if 1 <= int(n) <= len(union)}
    days_needed = days or (plan_days(state.question) if state.is_plan else 0)
    if not cited or any(f"Day {d}" not in answer for d in range(1, days_needed + 1)):
        return None
    return answer, numbers, cited


def synthesize_answer(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    if not union_of_sources(state.findings):
        return {"messages": [AIMessage(content=answering.NO_MATCH_ANSWER.format(collection=context.collection))]}
    covered, verdict = covered_findings(state, context)
    if verdict:
        return {"messages": [answerability.abstention_reply(verdict, knowledge_base_for(context), context.collection)],
                "citations": [], "answerability": verdict.as_dict()}
    left_out = [f["sub_question"] for f in state.findings if f not in covered]
    state = dataclasses.replace(state, findings=covered)
    union = union_of_sources(state.findings)
    written = generate_synthesis(state, context, union) if context.synthesis_mode() == "model" else None
    written_by = "model" if written else "template"
    answer, numbers, cited = written or template_answer(state, context, union)
    first_sentence: dict[tuple, str] = {}
    retrieved_by: dict[tuple, list[int]] = {}
    for finding in sorted(state.findings, key=lambda f: f["index"]):
        for number, sentence, _ in finding["evidence"]:
            if _is_prose(sentence):
                first_sentence.setdefault(_key(finding["chunks"][number - 1]), sentence)
        for chunk in finding["chunks"]:
            retrieved_by.setdefault(_key(chunk), []).append(finding["index"])
    ordered = sorted(union, key=numbers.__getitem__)
    # numbers run 1..n in `ordered`, as citation_records numbers them; each record also says which sub-questions found it
    citations = answering.citation_records([union[k] for k in ordered], cited, written_by,
                                           {numbers[k]: first_sentence[k] for k in ordered if k in first_sentence})
    for record, key in zip(citations, ordered):
        record["sub_questions"] = retrieved_by.get(key, [])
    footer = "\n".join(f"[{c['number']}] {c['label']}" for c in citations if c["cited"])
    if left_out:  # the covered part is answered; the uncovered part is named, not guessed
        answer += "\n\n" + answerability.ABSTAIN_PART.format(collection=context.collection, parts="; ".join(left_out))
    message = AIMessage(content=f"{answer}\n\nSources:\n{footer}",
                        additional_kwargs={"answer_text": answer, "sub_questions": state.sub_questions,
                                           "planned_by": state.planned_by, "written_by": written_by})
    return {"messages": [message], "citations": citations, "retrieved": [union[k] for k in ordered]}


builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(plan_sub_questions)
builder.add_node(retrieve_for_sub_question, input_schema=SubQuestionTask)
builder.add_node(synthesize_answer)
builder.add_node(answer_without_sources)
builder.add_node(abstain)
builder.add_edge(START, "plan_sub_questions")
builder.add_conditional_edges("plan_sub_questions", route_sub_questions,
                              ["retrieve_for_sub_question", "answer_without_sources", "abstain"])
builder.add_edge("retrieve_for_sub_question", "synthesize_answer")
builder.add_edge("synthesize_answer", END)
builder.add_edge("answer_without_sources", END)
builder.add_edge("abstain", END)

graph = builder.compile(name="rag_agentic")
