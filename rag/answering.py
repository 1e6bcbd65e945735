"""Answering from retrieved chunks with numbered citations: the step every RAG graph ends with.

    kb = open_knowledge_base("handbook", "", "local")             # one per (collection, index, embeddings)
    chunks = kb.search("How many days of annual leave do I get?", k=4)
    message, citations = answer_with_citations("How many days of annual leave do I get?", chunks, kb,
                                               model="local", evidence_sentences=2)
    message.content      # "Full-time employees get 25 days of annual leave [1].\n\nSources:\n[1] annual-leave.md ..."

The model sees the chunks (or, on a small model, their best-matching sentences) numbered [1]..[n]
in the user turn right before the question; its [n] markers become the citation records. When it
restates a source without a marker, the source it restated is cited (`cited_by="overlap"`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from rag.evidence import attribute, select_evidence
from rag.knowledge_base import KnowledgeBase
from rag.store import ScoredChunk

CITATION = re.compile(r"\[(\d+)\]")
# What a grounded fine-tune (`python -m training.grounded_data`) answers when its facts do not hold
# the answer; a reply that starts so is shown as an abstention, citing nothing.
UNCOVERED_ANSWER = "The facts do not answer that question."
_MODEL_DECLINE = re.compile(r"^\W*(?:the )?(?:facts|sources|documents) do not (?:answer|cover|say)", re.IGNORECASE)

# Small models follow short, concrete instructions best, and answer better when the sources sit
# in the user turn right before the question (measured with SmolLM2-135M on handbook questions).
SYSTEM_PROMPT = (
    "You are a helpful assistant. Use the facts to answer the question in one short sentence. "
    "Cite the fact number like [1]."
)

# Chosen with `python -m evals.handbook_qa --part tuning` over six prompt variants: this one answered
# 7 of 8 tuning questions with SmolLM2-135M (the others 2-7, and the 8th question wrong in most).
USER_PROMPT = """Facts:
{sources}

Question: {question}
Answer:"""

CHUNK_SOURCE = "[{number}] {title}\n{text}"
EVIDENCE_SOURCE = "[{number}] {sentence}"

NO_INDEX_ANSWER = (
    "The knowledge base '{collection}' is empty, so there is nothing to answer from yet. "
    "Add documents first: upload them in the chat app, or run "
    "`python -m apps.ask --ingest PATH --collection {collection}` (the sample handbook is in data/handbook)."
)
NO_MATCH_ANSWER = "I could not find anything about that in the documents of '{collection}'."


@lru_cache(maxsize=8)
def open_knowledge_base(collection: str, location: str, embeddings: str) -> KnowledgeBase:
    """The process's one KnowledgeBase per (collection, index location, embeddings spec)."""
    return KnowledgeBase(collection=collection, location=location or None, embeddings=embeddings)


def knowledge_base_for(settings) -> KnowledgeBase:
    """The knowledge base a graph's Context names (its collection, index_location, embeddings)."""
    return open_knowledge_base(settings.collection, settings.index_location, settings.embeddings)


def earlier_turns(messages: list[BaseMessage], turns: int) -> list[BaseMessage]:
    """The last `turns` question/answer pairs before the current question, answers without their source lists."""
    earlier = [m for m in messages[:-1] if m.type in ("human", "ai")]
    kept = earlier[-2 * turns:] if turns > 0 else []
    return [AIMessage(content=m.additional_kwargs.get("answer_text", str(m.text))) if m.type == "ai" else m for m in kept]


def answer_without_sources(kb: KnowledgeBase, collection: str) -> AIMessage:
    """The reply when nothing was retrieved: the collection is empty, or nothing matched."""
    template = NO_INDEX_ANSWER if kb.count() == 0 else NO_MATCH_ANSWER
    text = template.format(collection=collection)
    return AIMessage(content=text, additional_kwargs={"answer_text": text})


def sources_text(question: str, retrieved: list[ScoredChunk], kb: KnowledgeBase, evidence_sentences: int) -> tuple[str, list]:
    """The numbered sources the model sees, and the evidence sentences ranked best first."""
    evidence = select_evidence(question, retrieved, kb.embeddings, limit=max(evidence_sentences, 2 * len(retrieved)))
    if evidence_sentences > 0 and evidence:
        # best first, as measured; each sentence keeps its chunk's number
        return "\n".join(EVIDENCE_SOURCE.format(number=e.number, sentence=e.sentence)
                         for e in evidence[:evidence_sentences]), evidence
    text = "\n\n".join(CHUNK_SOURCE.format(number=i, title=c.title or c.label, text=c.text.strip())
                       for i, c in enumerate(retrieved, start=1))
    return text, evidence


def citation_records(retrieved: list[ScoredChunk], cited: set[int], cited_by: str | None,
                     best_sentence: dict[int, str]) -> list[dict]:
    """One record per retrieved chunk, numbered from 1; `cited` marks the ones the answer rests on."""
    return [{"number": i, "source": c.source, "label": c.label, "chunk_index": c.chunk_index, "score": round(c.score, 4),
             "cited": i in cited, "cited_by": cited_by if i in cited else None, "evidence": best_sentence.get(i, ""),
             "text": c.text}
            for i, c in enumerate(retrieved, start=1)]


def answer_with_citations(question: str, retrieved: list[ScoredChunk], kb: KnowledgeBase, *, model: str,
                          evidence_sentences: int = 0, history: list[BaseMessage] | None = None,
                          system_prompt: str = SYSTEM_PROMPT, user_prompt: str = USER_PROMPT) -> tuple[AIMessage, list[dict]]:
    """Ask the chat model `model` (a spec string) to answer `question` from the numbered `retrieved`
    chunks; returns the answer message (text + source list; `additional_kwargs["answer_text"]` holds
    the bare answer) and the citation records (one per retrieved chunk, `cited` marks the used ones).

    `evidence_sentences` > 0 shows the model only that many best-matching sentences instead of whole chunks."""
    from models import load_chat_model

    sources, evidence = sources_text(question, retrieved, kb, evidence_sentences)
    messages = [SystemMessage(content=system_prompt), *(history or []),
                HumanMessage(content=user_prompt.format(sources=sources, question=question))]
    reply = load_chat_model(model).invoke(messages)
    answer = str(reply.text).strip()
    if _MODEL_DECLINE.match(answer):
        citations = citation_records(retrieved, set(), None, {})
        return AIMessage(content=answer, additional_kwargs={"answer_text": answer, "abstained": True, "abstained_by": "model"},
                         response_metadata=reply.response_metadata, usage_metadata=getattr(reply, "usage_metadata", None)), citations
    cited = {int(n) for n in CITATION.findall(answer) if 1 <= int(n) <= len(retrieved)}
    cited_by = "model"
    if not cited and (restated := attribute(answer, evidence)) is not None:
        # The model restated a source without its marker: cite the source it restated.
        answer, cited, cited_by = f"{answer} [{restated}]", {restated}, "overlap"
    best_sentence: dict[int, str] = {}
    for e in evidence:
        best_sentence.setdefault(e.number, e.sentence)
    citations = citation_records(retrieved, cited, cited_by, best_sentence)
    shown = [c for c in citations if c["cited"]] or citations
    heading = "Sources:" if cited else "Sources consulted:"
    footer = "\n".join(f"[{c['number']}] {c['label']}" for c in shown)
    message = AIMessage(content=f"{answer}\n\n{heading}\n{footer}", additional_kwargs={"answer_text": answer},
                        response_metadata=reply.response_metadata, usage_metadata=getattr(reply, "usage_metadata", None))
    return message, citations


def answer_from_context(context, kb: KnowledgeBase, question: str, retrieved: list[ScoredChunk],
                        messages: list[BaseMessage] = (), history_turns: int | None = None) -> tuple[AIMessage, list[dict]]:
    """`answer_with_citations` with a RAG graph's Context (model, evidence_limit(), history_turns),
    shown the earlier turns of `messages`."""
    turns = context.history_turns if history_turns is None else history_turns
    return answer_with_citations(question, retrieved, kb, model=context.model,
                                 evidence_sentences=context.evidence_limit(), history=earlier_turns(list(messages), turns))
