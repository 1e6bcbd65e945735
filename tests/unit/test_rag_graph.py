"""Graph RAG (`graphs/rag_graph`): extraction, entity linking, Cypher checks and graph routing, on a
real in-memory Kùzu graph with a scripted fake chat model (named as such) where a model is asked."""

from __future__ import annotations

import pytest
from langchain_core.exceptions import OutputParserException

import graphs.rag_graph.graph as graph_rag
import models
from graphs.rag_graph.context import Context
from rag.cypher_templates import TRAVERSALS, best_traversals, check_generated_cypher, link_entities
from rag.documents import SourceDocument, load_document
from rag.graph_extraction import (FilmFacts, extract_facts, extract_from_prose, extract_with_model, extract_with_rules,
                                  facts_to_graph, ingest_documents, normalize_name)
from rag.graph_store import GraphCounts, KuzuGraphStore, UnsafeCypherError

DEMO = "Recommend a thriller starring an actor who also worked with Christopher Nolan"
INJECTION = '"}) DETACH DELETE n //'


def film(title, year, director, cast, genres):
    return f"# {title}\n\nYear: {year}\nDirector: {director}\nCast: {cast}\nGenre: {genres}\n\nA film.\n"


FILMS = {
    "inception.md": film("Inception", 2010, "Christopher Nolan", "Leonardo DiCaprio, Tom Hardy", "Science fiction, Thriller"),
    "the-dark-knight.md": film("The Dark Knight", 2008, "Christopher Nolan", "Christian Bale, Gary Oldman", "Action, Crime"),
    "shutter-island.md": film("Shutter Island", 2010, "Martin Scorsese", "Leonardo DiCaprio, Mark Ruffalo", "Thriller"),
    "locke.md": film("Locke", 2013, "Steven Knight", "Tom Hardy", "Drama, Thriller"),
    "gone-girl.md": film("Gone Girl", 2014, "David Fincher", "Ben Affleck, Rosamund Pike", "Thriller, Mystery"),
    "wolf.md": film("The Wolf of Wall Street", 2013, "Martin Scorsese", "Leonardo DiCaprio, Jonah Hill", "Comedy"),
    "leon.md": film("Léon: The Professional", 1994, "Luc Besson", "Jean Reno, Gary Oldman", "Crime"),
}


class ScriptedFakeChatModel:
    """A fake chat model: `with_structured_output(schema).invoke(prompt)` returns the next scripted
    reply validated into `schema`; remembers the schemas and prompts it was given."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.schemas, self.prompts = [], []

    def with_structured_output(self, schema):
        self.schemas.append(schema)
        return self

    def invoke(self, prompt):
        self.prompts.append(prompt)
        return self.schemas[-1].model_validate(self.replies.pop(0))


class NoModel:
    """Fails the test if any node asks for a model."""

    def with_structured_output(self, schema):
        raise AssertionError("the model was asked, but rules should have answered")

    invoke = with_structured_output


def write_films(folder, films=FILMS):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in films.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A real in-memory Kùzu graph of FILMS, used by the graph's nodes."""
    graph = KuzuGraphStore(":memory:")
    report = ingest_documents(graph, [write_films(tmp_path / "films")], extraction="rules")
    assert len(report.added) == len(FILMS) and not report.errors
    monkeypatch.setattr(graph_rag, "graph_store_for", lambda context: graph)
    return graph


def use_model(monkeypatch, model):
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: model)
    return model


def ask(question, **context):
    state = graph_rag.builder.compile().invoke({"messages": [("human", question)]}, context=Context(**context))
    return state, state["messages"][-1]


# --- extraction ------------------------------------------------------------------------------------

def test_labelled_lines_are_extracted_exactly():
    facts = extract_with_rules(load_document("data/movies/films/leon-the-professional.md"))
    assert facts == FilmFacts(title="Léon: The Professional", year=1994, directors=["Luc Besson"],
                              cast=["Jean Reno", "Natalie Portman", "Gary Oldman", "Danny Aiello"],
                              genres=["Thriller", "Crime", "Action"])


def test_prose_patterns_give_director_cast_year_and_genres():
    facts, extracted_by = extract_facts(load_document("data/movies/films/heat.md"), "auto")
    assert extracted_by == "rules"
    assert facts.title == "Heat" and facts.year == 1995 and facts.directors == ["Michael Mann"]
    assert facts.cast == ["Al Pacino", "Robert De Niro", "Val Kilmer", "Ashley Judd"]
    assert facts.genres == ["Crime", "Thriller"]
    odd = extract_from_prose(SourceDocument(text="It is a 2001 war drama directed by J. Robert Smith, starring "
                                                 "Robert Downey Jr., Ciarán Hinds and Max von Sydow.", source="x", title="x"))
    assert odd.directors == ["J. Robert Smith"] and odd.cast == ["Robert Downey Jr.", "Ciarán Hinds", "Max von Sydow"]


def test_model_extraction_keeps_only_what_the_text_supports():
    doc = SourceDocument(text="# Quiet Town\n\nA mystery set in 1961. Ana María Polvorosa and Tom Hardy star.",
                         source="quiet.md", title="Quiet Town")
    fake = ScriptedFakeChatModel({"title": "Quiet Town", "year": 1999, "directors": ["Steven Spielberg"],
                                  "cast": ["Ana María Polvorosa", "tom  hardy", "Brad Pitt"], "genres": ["mystery", "western"]})
    facts = extract_with_model(doc, fake)
    assert facts == FilmFacts(title="Quiet Town", year=None, directors=[], cast=["Ana María Polvorosa", "tom hardy"],
                              genres=["Mystery"])
    assert fake.schemas == [FilmFacts] and "Ana María Polvorosa" in fake.prompts[0]


def test_auto_extraction_asks_the_model_only_for_missing_fields(monkeypatch):
    doc = SourceDocument(text="# Quiet Town\n\nDirector: Jane Roe\nGenre: Mystery\n\nLena Hart and Tom Hardy carry it.",
                         source="quiet.md", title="Quiet Town")
    fake = use_model(monkeypatch, ScriptedFakeChatModel({"directors": ["Someone Else"], "cast": ["Lena Hart", "Tom Hardy"]}))
    facts, extracted_by = extract_facts(doc, "auto")
    assert extracted_by == "rules+model" and len(fake.prompts) == 1
    assert facts.directors == ["Jane Roe"] and facts.cast == ["Lena Hart", "Tom Hardy"] and facts.genres == ["Mystery"]


def test_names_are_normalised():
    assert normalize_name("  'Conan   O'Brien', ") == "Conan O'Brien"
    assert normalize_name("Ciara\u0301n Hinds") == "Ciarán Hinds"  # decomposed accent -> one character
    assert normalize_name("x\ny") == "x y" and normalize_name("a" * 200) == ""


def test_facts_become_cited_entities_and_relations():
    entities, relations = facts_to_graph(FilmFacts(title="Locke", year=2013, directors=["Steven Knight"],
                                                   cast=["Tom Hardy", "tom hardy"], genres=["Thriller"]), "/f/locke.md")
    assert [(e.label, e.name, e.properties) for e in entities] == [("Movie", "Locke", {"year": 2013, "source": "/f/locke.md"})]
    assert [(r.type, r.start_name, r.end_name) for r in relations] == [
        ("DIRECTED", "Steven Knight", "Locke"), ("ACTED_IN", "Tom Hardy", "Locke"), ("HAS_GENRE", "Locke", "Thriller")]
    assert all(r.properties == {"source": "/f/locke.md"} for r in relations)


# --- ingestion -------------------------------------------------------------------------------------

def test_ingest_is_incremental_by_content_hash(tmp_path):
    graph = KuzuGraphStore(":memory:")
    folder = write_films(tmp_path / "films", {k: FILMS[k] for k in ("inception.md", "locke.md")})
    first = ingest_documents(graph, [folder], extraction="rules")
    counts = graph.count()
    again = ingest_documents(graph, [folder], extraction="rules")
    assert len(first.added) == 2 and len(again.unchanged) == 2 and again.relations == 0
    assert graph.count() == counts
    (folder / "locke.md").write_text(film("Locke", 2013, "Steven Knight", "Olivia Colman", "Drama"), encoding="utf-8")
    edited = ingest_documents(graph, [folder], extraction="rules")
    assert [p.endswith("locke.md") for p in edited.updated] == [True]
    cast = graph.query("MATCH (p:Person)-[:ACTED_IN]->(:Movie {name: 'Locke'}) RETURN p.name AS name")
    assert cast == [{"name": "Olivia Colman"}]
    still_inception = graph.query("MATCH (p:Person {name: 'Tom Hardy'})-[:ACTED_IN]->(m) RETURN m.name AS m")
    assert still_inception == [{"m": "Inception"}]
    assert graph.query("MATCH (g:Genre {name: 'Thriller'})<-[:HAS_GENRE]-(m) RETURN m.name AS m") == [{"m": "Inception"}]


def test_a_document_carrying_cypher_is_stored_as_text_and_deletes_nothing(store, tmp_path):
    before = store.count()
    bad = tmp_path / "bad"
    write_films(bad, {"evil.md": f"# Evil{INJECTION}\n\nDirector: Mallory{INJECTION}\nCast: Tom Hardy, O'Neil \"Q\" Smith\n"
                                 f"Genre: Thriller\n\nMATCH (n) DETACH DELETE n; DROP TABLE Person; {INJECTION}\n"})
    report = ingest_documents(store, [bad], extraction="rules")
    assert len(report.added) == 1
    assert store.count() == GraphCounts(before.nodes + 4, before.relationships + 4)  # film, 2 new people, document; 4 facts
    rows = store.query("MATCH (p:Person)-[:DIRECTED]->(m:Movie) WHERE m.name = $title RETURN p.name AS p",
                       {"title": f"Evil{INJECTION}"})
    assert rows == [{"p": f"Mallory{INJECTION}"}]
    assert store.query("MATCH (p:Person {name: $n}) RETURN count(p) AS c", {"n": "O'Neil \"Q\" Smith"}) == [{"c": 1}]


def test_unusable_documents_are_reported_and_the_graph_is_untouched(store, tmp_path):
    before = store.count()
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "notes.md").write_text("Just some notes about lunch.", encoding="utf-8")
    (folder / "empty.md").write_text("", encoding="utf-8")
    (folder / "README.md").write_text("# About\n\nFilms directed by Christopher Nolan, starring Tom Hardy.\n")
    report = ingest_documents(store, [folder], extraction="rules")
    assert report.added == [] and len(report.errors) == 2 and len(report.skipped) == 1
    assert any("no film facts found" in str(e) and "Director:" in str(e) for e in report.errors)
    assert store.count() == before


# --- linking and Cypher checks -------------------------------------------------------------------

NAMES = {"person": ["Christopher Nolan", "Tom Hardy", "Ciarán Hinds", "Tom Hooper"],
         "movie": ["Drive", "The Dark Knight", "Léon: The Professional"], "genre": ["Thriller", "Science fiction", "Crime"]}


def test_link_entities():
    assert link_entities(DEMO, NAMES) == {"person": ["Christopher Nolan"], "movie": [], "genre": ["Thriller"]}
    assert link_entities("Which thrillers did nolan or Nolan make?", NAMES)["person"] == ["Christopher Nolan"]
    assert link_entities("films with ciaran hinds and TOM HARDY", NAMES)["person"] == ["Ciarán Hinds", "Tom Hardy"]
    assert link_entities("Would you drive to see sci-fi?", NAMES) == {"person": [], "movie": [], "genre": ["Science fiction"]}
    assert link_entities("Who directed Drive and The Dark Knight?", NAMES)["movie"] == ["Drive", "The Dark Knight"]
    assert link_entities("Who is in Leon: the professional", NAMES)["movie"] == ["Léon: The Professional"]
    assert link_entities("Tom?", NAMES)["person"] == []  # a shared first name names no one


def test_rules_pick_the_most_specific_traversal_with_the_best_cues():
    linked = {"person": ["Christopher Nolan"], "genre": ["Thriller"], "movie": []}
    assert best_traversals(DEMO, linked) == [TRAVERSALS["recommend_in_genre_via_coworker"]]
    assert best_traversals("Which thrillers did Christopher Nolan direct?", linked) == [TRAVERSALS["movies_in_genre_by_director"]]
    assert len(best_traversals("Christopher Nolan?", {"person": ["Christopher Nolan"]})) > 1  # a tie: the model decides


def test_generated_cypher_checks(store):
    schema = store.schema()
    ok = "MATCH (p:Person {name: $who})-[:ACTED_IN]->(m:Movie) RETURN m.name AS movie"
    assert check_generated_cypher(ok, {"who": "Tom Hardy"}, schema) == ok
    for cypher, params, problem in [
        ("MATCH (p:Person {name: 'Tom Hardy'}) RETURN p", {}, r"\$parameters"),
        ("MATCH (p:Person {name: $who}) RETURN p", {}, "not supplied"),
        ("MATCH (p:Actor) RETURN p", {}, "not in the graph schema"),
        ("MATCH (p)-[:PRODUCED]->(m) RETURN p", {}, "not in the graph schema"),
        ("MATCH (n) DETACH DELETE n", {}, "DETACH"),
        ("MATCH (n) RETURN n; MATCH (n) DELETE n", {}, "more than one statement"),
    ]:
        with pytest.raises(UnsafeCypherError, match=problem):
            check_generated_cypher(cypher, params, schema)


# --- the graph ---------------------------------------------------------------------------------------

def test_demo_question_is_answered_with_the_path_and_citations(store, monkeypatch):
    use_model(monkeypatch, NoModel())
    state, answer = ask(DEMO, model="local")
    assert answer.additional_kwargs["traversal"] == "recommend_in_genre_via_coworker"
    assert answer.additional_kwargs["chosen_by"] == "rules"
    assert answer.additional_kwargs["params"] == {"genre": "Thriller", "person": "Christopher Nolan"}
    text = answer.additional_kwargs["answer_text"]
    # Locke (2013): Tom Hardy was in Inception; Shutter Island (2010): DiCaprio was in Inception. Newest first on a tie.
    assert text.startswith("I recommend Locke (2013), a thriller. Why: Tom Hardy was in Christopher Nolan's Inception (2010) [1] "
                           "and stars in Locke [2].")
    assert "Shutter Island (2010) with Leonardo DiCaprio [3]" in text
    assert "Gone Girl" not in text and "Wolf" not in text and "Inception (2010)," not in text
    assert [c["label"] for c in state["citations"]] == ["inception.md", "locke.md", "shutter-island.md"]
    assert "Tom Hardy acted in Inception, which Christopher Nolan directed" in state["citations"][0]["evidence"]
    assert answer.content.endswith("Sources:\n[1] inception.md\n[2] locke.md\n[3] shutter-island.md")


def test_other_traversals_answer_from_rows(store, monkeypatch):
    use_model(monkeypatch, NoModel())
    _, answer = ask("Who directed Léon: The Professional?")
    assert answer.additional_kwargs["answer_text"] == ("Léon: The Professional (1994) was directed by Luc Besson [1]; "
                                                       "it stars Gary Oldman, Jean Reno [1].")
    _, answer = ask("Which actors worked with Nolan?")
    assert answer.additional_kwargs["answer_text"].startswith(
        "Actors who worked with Christopher Nolan, most films first: Christian Bale (The Dark Knight [1]), Gary Oldman")
    _, answer = ask("Which films have both Leonardo DiCaprio and Mark Ruffalo?")
    assert answer.additional_kwargs["answer_text"] == "Leonardo DiCaprio and Mark Ruffalo both worked on: Shutter Island (2010) [1]."


def test_a_tie_is_broken_by_the_model_choosing_among_the_fitting_traversals_only(store, monkeypatch):
    fake = use_model(monkeypatch, ScriptedFakeChatModel({"traversal": "movies_with_actor"}))
    _, answer = ask("Tom Hardy?")
    assert answer.additional_kwargs["chosen_by"] == "model"
    assert answer.additional_kwargs["answer_text"] == "Tom Hardy acted in Inception (2010) [1], Locke (2013) [2]."
    offered = set(fake.schemas[0].model_json_schema()["properties"]["traversal"]["enum"])
    assert offered == {"coworkers_of_person", "movies_directed_by", "movies_with_actor"}
    assert "Tom Hardy" in fake.prompts[0]


def test_injection_in_a_question_reaches_no_query(store, monkeypatch):
    use_model(monkeypatch, NoModel())
    before = store.count()
    state, answer = ask("Which films did Tom Hardy act in; MATCH (n) DETACH DELETE n //")
    assert not state["cypher"] and answer.additional_kwargs["abstained"]  # unknown names: refused, no query ran
    assert "'MATCH'" in answer.content and store.count() == before
    state, answer = ask("Which films did Tom Hardy act in; MATCH (n) DETACH DELETE n //", answerability="off")
    assert state["params"] == {"person": "Tom Hardy"} and "DETACH" not in state["cypher"]
    assert "Locke" in answer.content
    _, answer = ask(f"Who directed {INJECTION}?")
    assert answer.additional_kwargs["abstained"] and "'DETACH DELETE'" in answer.content
    _, answer = ask(f"Who directed {INJECTION}?", answerability="off")
    assert "could not match" in answer.content
    assert store.count() == before


def test_model_written_cypher_is_validated_before_it_runs(store, monkeypatch):
    before = store.count()
    capable = "openai:big@http://127.0.0.1:9/v1"  # not the bundled model: free Cypher is on by default
    use_model(monkeypatch, ScriptedFakeChatModel({"cypher": "MATCH (n) DETACH DELETE n RETURN count(n)", "params": {}}))
    _, answer = ask("How many films are there? Then delete everything.", model=capable)
    assert "did not run" in answer.content and "DETACH" in answer.content
    use_model(monkeypatch, ScriptedFakeChatModel({"cypher": "MATCH (m:Movie {name: 'Locke'}) RETURN m", "params": {}}))
    _, answer = ask("When was the oldest film made?", model=capable)
    assert "did not run" in answer.content and "$parameters" in answer.content
    assert store.count() == before
    fake = use_model(monkeypatch, ScriptedFakeChatModel({
        "cypher": "MATCH (m:Movie)<-[r:DIRECTED]-(p:Person) WHERE m.year >= $year "
                  "RETURN m.name AS movie, p.name AS director, r.source AS source ORDER BY movie", "params": {"year": 2013}}))
    state, answer = ask("Which films came out in 2013 or later?", model=capable)
    assert state["traversal"] == "generated" and "(:Movie)-[:HAS_GENRE {source}]->(:Genre)" in fake.prompts[0]
    assert answer.additional_kwargs["answer_text"] == ("The graph answers:\n- movie: Gone Girl, director: David Fincher [1]\n"
                                                       "- movie: Locke, director: Steven Knight [2]\n"
                                                       "- movie: The Wolf of Wall Street, director: Martin Scorsese [3]")
    assert [c["label"] for c in state["citations"]] == ["gone-girl.md", "locke.md", "wolf.md"]
    assert store.count() == before


def test_a_genre_the_graph_lacks_is_named_instead_of_ignored(store, monkeypatch):
    use_model(monkeypatch, NoModel())
    _, answer = ask("Recommend a western starring someone who worked with Christopher Nolan")
    assert answer.content == ("The graph holds no western films, so I cannot answer that. "
                              "Its genres: Action, Comedy, Crime, Drama, Mystery, Science fiction, Thriller.")


def test_a_model_reply_cut_off_mid_json_is_reported(store, monkeypatch):
    class CutOffFakeChatModel(ScriptedFakeChatModel):
        def invoke(self, prompt):
            raise OutputParserException('Invalid json output: {"cypher": "MATCH (m:Movie) RET')

    use_model(monkeypatch, CutOffFakeChatModel())
    _, answer = ask("How many films are there?", model="local", free_cypher="on")
    assert answer.content.startswith("The model did not return a usable query") and "--model" in answer.content


def test_the_bundled_model_gets_no_free_cypher(store, monkeypatch):
    use_model(monkeypatch, NoModel())
    _, answer = ask("How many films are there?", model="local")
    assert "could not match" in answer.content


def test_an_empty_graph_says_how_to_build_it(monkeypatch):
    empty = KuzuGraphStore(":memory:")
    monkeypatch.setattr(graph_rag, "graph_store_for", lambda context: empty)
    use_model(monkeypatch, NoModel())
    _, answer = ask(DEMO)
    assert "is empty" in answer.content and "python -m rag.graph_ingest data/movies/films" in answer.content


def test_context_reads_the_environment(monkeypatch):
    monkeypatch.setenv("HEARTH_GRAPH", "bolt://127.0.0.1:7687")
    monkeypatch.setenv("HEARTH_MODEL", "ollama:qwen2.5:7b")
    context = Context()
    assert context.graph_store == "bolt://127.0.0.1:7687" and context.model_writes_cypher()
    assert not Context(model="local?temperature=0").model_writes_cypher()
    assert Context(model="local", free_cypher="on").model_writes_cypher()
