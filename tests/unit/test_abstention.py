"""Abstention in every RAG graph: a question the collection does not cover gets a plain "the documents
have nothing on X; they cover Y" with no sources, and no model call; covered questions are answered.
Graph logic on fake knowledge bases and a scripted fake chat model (named as such); the thresholds
themselves are measured by `python -m evals.abstention`."""

from __future__ import annotations

import doctest

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langgraph.checkpoint.memory import InMemorySaver

import evals.abstention
import evals.handbook_qa
import graphs.rag.graph as rag_chat
import graphs.rag_agentic.graph as agentic
import graphs.rag_conversational.graph as conversational
import graphs.rag_graph.graph as graph_rag
import graphs.rag_hybrid.graph as hybrid
import models
import rag.answerability
from evals.abstention import sweep
from graphs.rag.context import Context
from graphs.rag_agentic.context import Context as AgenticContext
from graphs.rag_conversational.context import Context as ConversationalContext
from graphs.rag_graph.context import Context as GraphContext
from graphs.rag_hybrid.context import Context as HybridContext
from rag.answerability import (Thresholds, content_stems, decide, named_terms, soft_coverage,
                               tokens_and_stems)
from rag.graph_extraction import ingest_documents
from rag.graph_store import KuzuGraphStore
from rag.store import ScoredChunk
from rag_fakes import FakeKnowledgeBase


class ScriptedFakeChatModel(FakeListChatModel):
    """Scripted replies; counts calls."""

    calls: int = 0

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls += 1
        return super()._call(messages, stop, run_manager, **kwargs)


def chunk(name, text, index=0, title=""):
    return ScoredChunk(text=text, source=f"/docs/{name}", chunk_index=index, score=0.6, title=title or name)


HANDBOOK = [
    chunk("annual-leave.md", "Full-time employees get 25 days of paid annual leave per calendar year.", title="Annual leave"),
    chunk("annual-leave.md", "You may carry over up to 5 unused days into the next leave year.", 1, "Annual leave"),
    chunk("remote-work.html", "Teams agree one shared office day each week; core hours are 10:00 to 15:00.", title="Remote work"),
    chunk("expenses.md", "Submit every expense claim in Ledger within 30 days.", title="Expenses"),
]
GUIDES = [
    chunk("tram-28.md", "Tram 28 is Lisbon's famous vintage tram; a single ticket costs €3.20.", title="Tram 28"),
    chunk("alfama.md", "Alfama is the oldest neighbourhood of Lisbon, below the castle, with viewpoints.", title="Alfama"),
    chunk("food.md", "Try the traditional custard pastry, pastel de nata, and dishes of salted cod in Lisbon.", title="Food"),
    chunk("sintra.md", "Sintra is a palace town, an easy day trip by train from Lisbon.", title="Sintra"),
]


@pytest.fixture
def fake_model(monkeypatch):
    llm = ScriptedFakeChatModel(responses=["You get 25 days [1]."] * 10)
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: llm)
    return llm


def answer_of(state):
    message = state["messages"][-1]
    return message, message.additional_kwargs.get("answer_text", message.content)


@pytest.mark.parametrize("module, context_class", [(rag_chat, Context), (hybrid, HybridContext)])
@pytest.mark.parametrize("question, missing", [("Can I bring my dog to the office?", None),
                                               ("How many days of jury duty leave do I get?", None),
                                               ("How many days of annual leave do employees in Germany get?", "Germany"),
                                               ("How many days of annual leave did we get in 2019?", "2019")])
def test_handbook_graphs_abstain_on_what_the_handbook_does_not_cover(monkeypatch, fake_model, module, context_class,
                                                                      question, missing):
    kb = FakeKnowledgeBase(list(HANDBOOK))
    monkeypatch.setattr(module, "knowledge_base_for", lambda context: kb)
    state = module.builder.compile().invoke({"messages": [("human", question)]},
                                            context=context_class(collection="handbook", evidence_sentences=0))
    message, text = answer_of(state)
    assert message.additional_kwargs["abstained"] is True and state["citations"] == []
    assert "Northwind Labs staff handbook" in text  # says what the collection covers
    if missing:
        assert f"nothing on {missing}" in text
    assert fake_model.calls == 0


def test_a_covered_question_is_still_answered(monkeypatch, fake_model):
    kb = FakeKnowledgeBase(list(HANDBOOK))
    monkeypatch.setattr(rag_chat, "knowledge_base_for", lambda context: kb)
    state = rag_chat.builder.compile().invoke({"messages": [("human", "How many days of annual leave do I get?")]},
                                              context=Context(evidence_sentences=0))
    message, text = answer_of(state)
    assert not message.additional_kwargs.get("abstained") and "25 days" in text and fake_model.calls == 1
    assert state["answerability"]["answerable"] is True


def test_a_model_that_says_its_facts_do_not_answer_is_shown_as_an_abstention_citing_nothing(monkeypatch):
    from rag.answering import UNCOVERED_ANSWER

    llm = ScriptedFakeChatModel(responses=[UNCOVERED_ANSWER])  # what a grounded fine-tune says on a near miss
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: llm)
    kb = FakeKnowledgeBase(list(HANDBOOK))
    monkeypatch.setattr(rag_chat, "knowledge_base_for", lambda context: kb)
    state = rag_chat.builder.compile().invoke({"messages": [("human", "How many days of annual leave do I get?")]},
                                              context=Context(evidence_sentences=0, answerability="off"))
    message, text = answer_of(state)
    assert message.additional_kwargs["abstained"] is True and message.additional_kwargs["abstained_by"] == "model"
    assert text == UNCOVERED_ANSWER and "Sources" not in message.content
    assert not any(c["cited"] for c in state["citations"]) and llm.calls == 1


def test_answerability_off_answers_as_before(monkeypatch, fake_model):
    kb = FakeKnowledgeBase(list(HANDBOOK))
    monkeypatch.setattr(rag_chat, "knowledge_base_for", lambda context: kb)
    state = rag_chat.builder.compile().invoke({"messages": [("human", "Can I bring my dog to the office?")]},
                                              context=Context(evidence_sentences=0, answerability="off"))
    assert not state["messages"][-1].additional_kwargs.get("abstained") and fake_model.calls == 1


def test_porto_trip_plan_over_the_lisbon_guides_is_refused_naming_porto_and_lisbon(monkeypatch, fake_model):
    kb = FakeKnowledgeBase(list(GUIDES))
    kb.collection = "travel"
    monkeypatch.setattr(agentic, "knowledge_base_for", lambda context: kb)
    state = agentic.builder.compile().invoke({"messages": [("human", "Plan a 2-day trip to Porto focused on food")]},
                                             context=AgenticContext(collection="travel"))
    message, text = answer_of(state)
    assert message.additional_kwargs["abstained"] is True and state["citations"] == []
    assert "nothing on Porto" in text and "Lisbon only" in text and "Day 1" not in text
    assert kb.queries == [] and fake_model.calls == 0  # nothing searched, no plan written


def test_lisbon_trip_plan_is_still_planned(monkeypatch, fake_model):
    kb = FakeKnowledgeBase(list(GUIDES))
    kb.collection = "travel"
    monkeypatch.setattr(agentic, "knowledge_base_for", lambda context: kb)
    state = agentic.builder.compile().invoke({"messages": [("human", "Plan a 2-day trip to Lisbon")]},
                                             context=AgenticContext(collection="travel"))
    message, text = answer_of(state)
    assert not message.additional_kwargs.get("abstained") and "Day 1" in text and "Day 2" in text


def test_a_follow_up_that_leaves_the_guides_is_refused(monkeypatch, fake_model):
    kb = FakeKnowledgeBase(list(GUIDES))
    monkeypatch.setattr(conversational, "knowledge_base_for", lambda context: kb)
    graph = conversational.builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    context = ConversationalContext(collection="travel", rewrite_with="keywords", evidence_sentences=0)
    first = graph.invoke({"messages": [("human", "What is tram 28?")]}, config, context=context)
    assert not first["messages"][-1].additional_kwargs.get("abstained")
    state = graph.invoke({"messages": [("human", "And what about the trams in Porto?")]}, config, context=context)
    message, text = answer_of(state)
    assert message.additional_kwargs["abstained"] is True and "nothing on Porto" in text and state["citations"] == []


FILMS = {
    "grand.md": "# The Royal Comedy\n\nYear: 2001\nDirector: Ann Smith\nCast: Bob Jones\nGenre: Comedy\n",
    "dark.md": "# Dark Night\n\nYear: 2008\nDirector: Chris Nolan\nCast: Bob Jones, Cat Lee\nGenre: Thriller\n",
}


@pytest.fixture
def film_graph(tmp_path, monkeypatch):
    for name, text in FILMS.items():
        (tmp_path / name).write_text(text)
    store = KuzuGraphStore(":memory:")
    ingest_documents(store, [tmp_path], extraction="rules")
    monkeypatch.setattr(graph_rag, "graph_store_for", lambda context: store)
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: pytest.fail("no model call expected"))
    return store


@pytest.mark.parametrize("question, missing", [("Recommend a comedy directed by Wes Anderson", "'Wes Anderson'"),
                                               ("Who directed Jaws?", "'Jaws'"),
                                               ("Which films did Chris Nolan direct in 1998?", "'1998'")])
def test_graph_rag_says_when_a_person_film_or_year_is_not_in_the_graph(film_graph, question, missing):
    state = graph_rag.builder.compile().invoke({"messages": [("human", question)]}, context=GraphContext(model="local"))
    message, text = answer_of(state)
    assert message.additional_kwargs["abstained"] is True and state["citations"] == [] and not state["rows"]
    assert missing in text and "2 films" in text


def test_graph_rag_still_answers_names_it_holds(film_graph):
    state = graph_rag.builder.compile().invoke({"messages": [("human", "Which comedies did Ann Smith direct?")]},
                                               context=GraphContext(model="local"))
    message, text = answer_of(state)
    assert not message.additional_kwargs.get("abstained") and "The Royal Comedy" in text


def test_named_terms_and_content_stems():
    assert named_terms("Plan a 2-day trip to Porto focused on food") == ["Porto"]
    assert named_terms("Who stars in The Godfather?") == ["Godfather"]
    assert named_terms("Is alcohol reimbursed with a business dinner?") == []
    assert list(content_stems("How many days of leave do I get?")) == ["leav"]


def test_decide_follows_the_thresholds():
    signals = {"missing_names": [], "unknown_terms": ["dog"], "coverage": 0.4, "similarity": 0.55}
    assert decide(signals, Thresholds(min_coverage=0.5, trust_similarity=0.6)).reason == "low_coverage"
    assert decide({**signals, "similarity": 0.65}, Thresholds(min_coverage=0.5, trust_similarity=0.6)).answerable  # a close chunk outweighs it
    assert decide({**signals, "chunk_coverage": 0.3}, Thresholds(min_chunk_coverage=0.5, trust_similarity=0.6)).reason == "low_coverage"
    assert decide(signals, Thresholds(min_coverage=0.3, max_unknown_terms=0)).reason == "unknown_terms"
    assert decide(signals, Thresholds(min_coverage=0.3, min_similarity=0.7)).reason == "low_similarity"
    assert decide(signals, Thresholds(min_coverage=0.3)).answerable


def test_a_users_word_close_to_a_chunks_word_counts_only_under_the_soft_threshold():
    """"off with flu" over a chunk on sickness: exact words hold 1 of 2 weighted terms; with soft
    matching at 0.6 the chunk's "sickness" (cosine 0.67 to "flu") holds the other."""
    signals = {"missing_names": [], "unknown_terms": ["flu"], "coverage": 0.5, "chunk_coverage": 0.5, "similarity": 0.45,
               "term_weights": {"flu": 2.0, "note": 2.0}, "chunk_term_similarity": [{"flu": 0.67, "note": 1.0},
                                                                                 {"flu": 0.1, "note": 0.0}]}
    assert soft_coverage(signals) == (0.5, 0.5) and soft_coverage(signals, 0.6) == (1.0, 1.0)
    strict_words = Thresholds(min_coverage=0.6, trust_similarity=1.01, soft_match=1.01)
    assert decide(signals, strict_words).reason == "low_coverage"
    assert decide(signals, Thresholds(min_coverage=0.6, trust_similarity=1.01, soft_match=0.6)).answerable
    assert not decide(signals, Thresholds(min_coverage=0.6, trust_similarity=1.01, soft_match=0.7)).answerable


def test_soft_matches_come_from_the_collections_embedding_model():
    """Real MiniLM word vectors: the word the handbook uses for the user's word scores far above the
    words of an unrelated chunk."""
    from models import load_embeddings
    from rag.answerability import soft_term_matches

    class Collection:  # only what soft_term_matches reads: the embedding model and its spec
        embeddings_spec = "local"
        embeddings = load_embeddings("local")

    sick = chunk("sick.md", "Employees on sickness absence must send a doctor's note after three days.", title="Sick leave")
    tram = chunk("tram.md", "Tram 28 rattles through Alfama past the cathedral.", title="Tram 28")
    terms = content_stems("off with flu, when do I need a note")
    rows = soft_term_matches(terms, [tokens_and_stems(f"{c.title}\n{c.text}") for c in (sick, tram)], Collection())
    flu = next(stem for stem, word in terms.items() if word == "flu")
    assert rows[0]["note"] == 1.0 and rows[0][flu] >= 0.6
    assert rows[1][flu] < 0.5 and rows[1]["note"] < 1.0


def test_word_vectors_are_kept_per_embedding_model_not_per_spec_name():
    """Two collections whose models give vectors of different sizes (the full suite once mixed a
    fake 16-dimensional model's words with another's) each get their own word vectors."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from rag.answerability import soft_term_matches

    class Collection:
        def __init__(self, size):
            self.embeddings = DeterministicFakeEmbedding(size=size)

    terms = content_stems("off with flu, when do I need a note")
    for size, text in ((16, "Employees on sickness absence must send a note."), (8, "A note from a doctor after three days."),
                       (16, "Staff with influenza stay home and send a note.")):
        sick = chunk("sick.md", text)  # each text adds words the earlier ones lack
        rows = soft_term_matches(terms, [tokens_and_stems(sick.text)], Collection(size))
        assert rows[0]["note"] == 1.0 and 0.0 <= max(rows[0].values()) <= 1.0


def test_sweep_keeps_false_abstention_at_most_five_percent():
    signals = ([{"answerable": True, "missing_names": [], "unknown_terms": [], "coverage": 0.9, "similarity": 0.6}] * 19
               + [{"answerable": True, "missing_names": [], "unknown_terms": [], "coverage": 0.45, "similarity": 0.3}]
               + [{"answerable": False, "missing_names": ["Porto"], "unknown_terms": [], "coverage": 0.9, "similarity": 0.6}]
               + [{"answerable": False, "missing_names": [], "unknown_terms": [], "coverage": 0.2, "similarity": 0.5}])
    _, best = sweep(signals)
    assert best["abstention_recall"] == 1.0 and best["false_abstention"] <= 0.05 and best["check_names"]


def test_decisions_report_recall_false_abstention_and_the_rule_behind_each_wrong_refusal():
    from evals.abstention import decisions

    covered = {"missing_names": [], "unknown_terms": [], "coverage": 0.9, "chunk_coverage": 0.9, "similarity": 0.6}
    signals = [{"graph": "rag", "answerable": True, **covered},
               {"graph": "rag", "answerable": True, **covered, "chunk_coverage": 0.2, "similarity": 0.4},
               {"graph": "rag", "answerable": False, **covered, "missing_names": ["Porto"]},
               {"graph": "rag", "answerable": False, **covered}]
    [row] = decisions(signals, {"rules": Thresholds(min_chunk_coverage=0.5)})
    assert (row["abstention_recall"], row["false_abstention"]) == (0.5, 0.5)
    assert row["wrongly_refused_by"] == {"low_coverage": 1}


@pytest.mark.parametrize("module", [rag.answerability, evals.handbook_qa, evals.abstention])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


NEAR_MISS_HANDBOOK = HANDBOOK + [
    chunk("benefits.html", "The company pays for a health plan for every employee.", title="Benefits"),
    chunk("expenses.md", "Private car journeys are repaid at EUR 0.30 per kilometre.", 1, "Expenses"),
    chunk("remote-work.html", "Hybrid staff get an internet stipend of EUR 25 a month.", 1, "Remote work"),
]
PENA = chunk("sintra.md", "Pena Palace is a hilltop palace in Sintra; tickets for the palace and park cost €20.", 1, "Sintra")


def ask_rag(monkeypatch, chunks, question, collection, answerability="rules"):
    kb = FakeKnowledgeBase(list(chunks))
    kb.collection = collection
    monkeypatch.setattr(rag_chat, "knowledge_base_for", lambda context: kb)
    state = rag_chat.builder.compile().invoke({"messages": [("human", question)]},
                                              context=Context(collection=collection, evidence_sentences=0,
                                                              answerability=answerability))
    return state, *answer_of(state)


def test_strict_refuses_a_near_miss_whose_words_are_spread_over_several_chunks(monkeypatch, fake_model):
    """"company", "car" and "stipend" each occur in a retrieved chunk, never together: the chunks
    together cover the question, the best single chunk does not. `strict` checks the best single
    chunk and refuses; the default `rules` checks the chunks together (fewer wrong refusals of
    questions in users' own words) and lets it through to the model."""
    state, message, _ = ask_rag(monkeypatch, NEAR_MISS_HANDBOOK, "Is there a company car stipend?", "handbook", "strict")
    assert message.additional_kwargs["abstained"] is True and state["answerability"]["reason"] == "low_coverage"
    assert state["answerability"]["coverage"] == 1.0 and fake_model.calls == 0
    state, message, _ = ask_rag(monkeypatch, NEAR_MISS_HANDBOOK, "How much is the internet stipend?", "handbook", "strict")
    assert not message.additional_kwargs.get("abstained") and fake_model.calls == 1
    state, message, _ = ask_rag(monkeypatch, NEAR_MISS_HANDBOOK, "Is there a company car stipend?", "handbook")
    assert not message.additional_kwargs.get("abstained") and fake_model.calls == 2


def test_a_time_question_over_a_source_that_only_gives_a_price_is_refused(monkeypatch, fake_model):
    state, message, _ = ask_rag(monkeypatch, GUIDES + [PENA], "What are Pena Palace's opening hours?", "travel")
    assert message.additional_kwargs["abstained"] is True and state["answerability"]["reason"] == "no_answer_of_type"
    state, message, _ = ask_rag(monkeypatch, GUIDES + [PENA], "How much is a ticket for Pena Palace?", "travel")
    assert not message.additional_kwargs.get("abstained")


def test_agentic_answers_the_covered_part_and_names_the_uncovered_part(monkeypatch, fake_model):
    kb = FakeKnowledgeBase(list(GUIDES + [PENA]))
    kb.collection = "travel"
    monkeypatch.setattr(agentic, "knowledge_base_for", lambda context: kb)
    question = "How much is a single ticket on tram 28 and what are Pena Palace's opening hours?"
    state = agentic.builder.compile().invoke({"messages": [("human", question)]},
                                             context=AgenticContext(collection="travel", planner="template", synthesis="template"))
    message, text = answer_of(state)
    assert not message.additional_kwargs.get("abstained") and "€3.20" in text
    assert "do not answer this part: what are Pena Palace's opening hours?" in text
    assert [c["source"] for c in state["citations"] if c["cited"]] == ["/docs/tram-28.md"]


# ---- the trained checker (mode 'trained'): its training pairs and its place in the decision ----------

ARTICLE = {"title": "Tile museum", "paragraphs": [
    {"context": "The tile museum is in a former convent. It is closed on Mondays. Tickets cost 5 euros.",
     "qas": [{"question": "On which day is the tile museum closed?",
              "answers": [{"text": "Mondays", "answer_start": 58}]}]},
    {"context": "The convent was founded in 1509. Its church has a gilded interior.", "qas": []},
]}


def test_checker_pairs_hold_the_answer_only_in_the_positives():
    import random

    from training.answerability import question_pairs

    rows = question_pairs(ARTICLE, random.Random(0))
    kinds = {row["kind"]: row for row in rows}
    assert set(kinds) == {"own paragraph", "answer window", "same topic, answer removed", "other section"}
    for row in rows:
        assert ("Mondays" in row["passage"]) == bool(row["label"]), row
    assert "Tickets cost 5 euros" in kinds["same topic, answer removed"]["passage"]  # same subject, answer gone


def test_corrupt_or_missing_squad_file_names_the_fix(tmp_path):
    from training.answerability import read_squad

    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [{"title": "x", "paragraphs": [{"context": "c"}]}]}')
    with pytest.raises(ValueError, match="SQuAD-format"):
        read_squad(broken)
    with pytest.raises(FileNotFoundError, match="--data"):
        read_squad(tmp_path / "missing.json")


def test_decide_refuses_when_the_checker_finds_no_stated_answer():
    signals = {"missing_names": [], "unknown_terms": [], "coverage": 1.0, "chunk_coverage": 1.0, "similarity": 0.7}
    assert decide({**signals, "answer_score": 0.2}, Thresholds(min_answer_score=0.5)).reason == "answer_not_stated"
    assert decide({**signals, "answer_score": 0.8}, Thresholds(min_answer_score=0.5)).answerable
    assert decide({**signals, "answer_score": None}, Thresholds(min_answer_score=0.5)).answerable  # no checker: rules only


def test_trained_mode_without_a_checker_names_the_training_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_ANSWER_CHECKER", str(tmp_path / "none"))
    with pytest.raises(ValueError, match="python -m training.answerability"):
        rag.answerability.check("How many leave days?", HANDBOOK[:1], FakeKnowledgeBase(HANDBOOK), mode="trained")


class ScriptedChecker:
    """A scripted stand-in for the trained cross-encoder: a fixed score per passage that mentions a word."""

    def __init__(self, scores: dict[str, float]):
        self.scores = scores
        self.read: list[tuple[str, str]] = []

    def score_pairs(self, pairs):
        self.read.extend(pairs)
        return [max((s for word, s in self.scores.items() if word in passage), default=0.0) for _, passage in pairs]


def test_rag_in_trained_mode_follows_the_checker(monkeypatch, fake_model):
    checker = ScriptedChecker({"25 days": 0.9})
    monkeypatch.setattr(rag.answerability, "load_checker", lambda folder=None: checker)
    kb = FakeKnowledgeBase(list(HANDBOOK))
    kb.collection = "handbook"
    monkeypatch.setattr(rag_chat, "knowledge_base_for", lambda context: kb)
    graph = rag_chat.builder.compile()

    def ask(question):
        state = graph.invoke({"messages": [("human", question)]},
                             context=Context(collection="handbook", evidence_sentences=0, answerability="trained"))
        return answer_of(state)

    message, text = ask("How many days of paid annual leave do full-time employees get?")
    assert not message.additional_kwargs.get("abstained") and "25 days" in text
    message, text = ask("When do the core hours of remote work start?")  # no passage the checker trusts
    assert message.additional_kwargs.get("abstained")
    assert message.additional_kwargs["answerability"]["reason"] == "answer_not_stated"
    assert checker.read and all(q for q, _ in checker.read)


def test_the_benchmark_table_puts_several_models_side_by_side():
    from evals.abstention import summarise, table

    rows = [{"model": model, "graph": "rag", "setting": "rules", "answerable": answerable, "abstained": abstained,
             "correct": answerable and not abstained, "cited": 0, "seconds": 1.0}
            for model, abstained in (("local", False), ("gguf:grounded.gguf", True)) for answerable in (True, False)]
    summary = summarise(rows)
    assert [(s["model"], s["abstention_recall"], s["false_abstention"]) for s in summary] == [
        ("local", 0.0, 0.0), ("gguf:grounded.gguf", 1.0, 1.0)]
    lines = table(summary, ["local", "gguf:grounded.gguf"], "test").splitlines()
    assert lines[2].startswith("| model | graph |") and lines[-1].startswith("| `gguf:grounded.gguf` | rag | rules |")


@pytest.mark.parametrize("part, first_id", [("fresh", 2000), ("fresh2", 3000), ("fresh3", 4000), ("fresh4", 5000),
                                            ("fresh5", 6000), ("fresh6", 7000)])
def test_each_blind_part_is_balanced_and_its_answers_are_in_its_documents(part, first_id):
    """A blind part holds as many answerable questions as near misses per collection, in its own id block,
    and every expected fact of an answerable one is in that collection's text (so a right answer exists)."""
    import json
    from collections import Counter

    from evals.abstention import QUESTIONS

    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len({r["id"] for r in rows}) == len(rows)
    items = [r for r in rows if r["split"] == part]
    assert items and all(first_id <= r["id"] < first_id + 1000 for r in items)
    counts = Counter((r["corpus"], r["answerable"]) for r in items)
    assert all(counts[(corpus, True)] == counts[(corpus, False)] for corpus in {r["corpus"] for r in items})
    folders = {"handbook": "data/handbook", "travel": "data/travel/guides"}
    root = QUESTIONS.parents[2]
    texts = {c: " ".join(p.read_text(encoding="utf-8") for p in (root / f).iterdir()).lower() for c, f in folders.items()}
    for r in items:
        if r["answerable"]:
            assert r["expected"] and all(e.lower() in texts[r["corpus"]] for e in r["expected"]), r
        else:
            assert r["expected"] == [], r
