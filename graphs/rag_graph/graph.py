"""Graph RAG: answer questions about films from a graph of people, films and genres, with the
path through the graph explained and every fact cited to the document it came from.

    python -m rag.graph_ingest data/movies/films                 # build the graph (Kùzu in .hearth/graph)
    python -m apps.ask --mode rag_graph "Recommend a thriller starring an actor who also worked with Christopher Nolan"
    langgraph dev --no-browser                                   # graph "rag_graph" in Studio

    read_graph --(empty store)--> answer_empty_graph
               \\--(names a genre, person, film or year the graph lacks)--> answer_unsupported
               \\-> choose_traversal --(a traversal fits)--> run_query --> compose_answer
                                    \\--(none fits, capable model)--> generate_cypher --> run_query
                                    \\--(none fits)--> answer_unsupported

The question never enters a query. Names it mentions are linked to names the graph holds, and a
fixed Cypher template (a "traversal") runs with those names as `$parameters`. Rules pick the
traversal that uses the most linked names; when several tie, the model picks among them under a
JSON-schema constraint (only their names are valid output). With a capable model
(`free_cypher`), questions no traversal fits get model-written Cypher, shown only the live schema
and validated before it runs: read-only, one statement, values only as parameters, known labels.
Answers are written by code from the returned rows, never by the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model

from graphs.rag_graph import prompts
from graphs.rag_graph.context import Context
from graphs.rag_graph.state import InputState, State
from models.messages import last_human_text
from rag.cypher_templates import (ENTITY_LABELS, TRAVERSALS, best_traversals, check_generated_cypher,
                                  genres_not_in_graph, link_entities, unlinked_names)
from rag.graph_store import GraphStore, GraphStoreError, UnsafeCypherError, shared_graph_store


def graph_store_for(context: Context) -> GraphStore:
    return shared_graph_store(context.graph_store)


class GeneratedCypher(BaseModel):
    """A model-written query: Cypher text plus the values it refers to as $name."""

    cypher: str = Field(description="one read-only MATCH ... RETURN query using $name parameters")
    params: dict[str, str | int | float] = Field(default_factory=dict, description="parameter name -> value")


# --- nodes ---------------------------------------------------------------------------------------

def read_graph(state: State, runtime: Runtime[Context]) -> dict:
    """Read the live schema and link the names the question mentions to the graph's names."""
    context = runtime.context or Context()
    store = graph_store_for(context)
    question = last_human_text(state.messages)
    schema = store.schema()
    names = {}
    for kind, label in ENTITY_LABELS.items():
        rows = store.query(f"MATCH (n:{label}) RETURN n.name AS name") if schema.has_label(label) else []
        names[kind] = [r["name"] for r in rows if r["name"]]
    linked = link_entities(question, names)
    refusal, verdict = "", {}
    if missing := genres_not_in_graph(question, names.get("genre", [])):
        refusal = prompts.UNKNOWN_GENRE_ANSWER.format(genre=missing[0], genres=", ".join(sorted(names["genre"])))
        verdict = {"answerable": False, "reason": "unknown_genre", "missing": missing}
    elif context.answerability != "off" and schema.has_label("Movie"):
        years = {r["year"] for r in store.query("MATCH (m:Movie) RETURN DISTINCT m.year AS year") if r["year"]}
        if missing := unlinked_names(question, linked, years):
            refusal = prompts.NOT_IN_GRAPH_ANSWER.format(
                missing=" or ".join(f"'{m}'" for m in missing), films=len(names.get("movie", [])),
                people=len(names.get("person", [])), genres=", ".join(sorted(names.get("genre", []))))
            verdict = {"answerable": False, "reason": "unknown_names", "missing": missing}
    return {"question": question, "schema": schema.describe() if schema.nodes else "", "linked": linked,
            "traversal": "", "chosen_by": "", "cypher": "", "params": {}, "rows": [], "refusal": refusal,
            "citations": [], "answerability": verdict}


def route_after_read(state: State) -> Literal["choose_traversal", "answer_empty_graph", "answer_unsupported"]:
    if not state.schema:
        return "answer_empty_graph"
    return "answer_unsupported" if state.refusal else "choose_traversal"


def choose_traversal(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    store = graph_store_for(context)
    schema = store.schema()
    if context.planner == "model":
        candidates = [t for t in TRAVERSALS.values() if t.fits(state.linked, schema)]
    else:
        candidates = best_traversals(state.question, state.linked, schema)
    if not candidates:
        return {}
    chosen, chosen_by = candidates[0], "rules"
    if len(candidates) > 1 and context.planner != "rules":
        chosen, chosen_by = generate_traversal_choice(state, context, candidates), "model"
    return {"traversal": chosen.name, "chosen_by": chosen_by, "cypher": chosen.cypher,
            "params": chosen.parameters(state.linked)}


def generate_traversal_choice(state: State, context: Context, candidates: list) -> object:
    """The model picks one of `candidates`; the JSON schema admits only their names."""
    from models import load_chat_model

    names = tuple(t.name for t in candidates)
    choice_model = create_model("TraversalChoice", traversal=(Literal[names], Field(description="the query to run")))
    options = "\n".join(f"- {t.name}: {t.description}" for t in candidates)
    linked = ", ".join(f"{kind} {name!r}" for kind, values in state.linked.items() for name in values) or "none"
    prompt = prompts.CHOOSE_TRAVERSAL_PROMPT.format(question=state.question, linked=linked, options=options)
    reply = load_chat_model(context.model).with_structured_output(choice_model).invoke(prompt)
    name = reply["traversal"] if isinstance(reply, dict) else reply.traversal
    return TRAVERSALS[name] if name in names else candidates[0]


def route_after_choice(state: State, runtime: Runtime[Context]
                       ) -> Literal["run_query", "generate_cypher", "answer_unsupported"]:
    context = runtime.context or Context()
    if state.traversal:
        return "run_query"
    return "generate_cypher" if context.model_writes_cypher() else "answer_unsupported"


def generate_cypher(state: State, runtime: Runtime[Context]) -> dict:
    """A capable model writes Cypher from the live schema; it runs only if it passes every check."""
    from models import load_chat_model

    context = runtime.context or Context()
    linked = ", ".join(f"{kind} {name!r}" for kind, values in state.linked.items() for name in values) or "none"
    prompt = prompts.CYPHER_PROMPT.format(schema=state.schema, linked=linked, question=state.question)
    try:
        reply = load_chat_model(context.model).with_structured_output(GeneratedCypher).invoke(prompt)
        generated = GeneratedCypher.model_validate(reply) if isinstance(reply, dict) else reply
    except (ValueError, OutputParserException) as exc:  # e.g. JSON cut off at the model's max_tokens
        return {"refusal": f"The model did not return a usable query ({str(exc)[:160]}). "
                           "Rephrase the question, or use a larger model (--model)."}
    try:
        cypher = check_generated_cypher(generated.cypher, generated.params, graph_store_for(context).schema())
    except UnsafeCypherError as exc:
        return {"refusal": str(exc), "cypher": generated.cypher, "params": generated.params}
    return {"traversal": "generated", "chosen_by": "model", "cypher": cypher, "params": generated.params}


def route_after_generate(state: State) -> Literal["run_query", "answer_unsupported"]:
    return "run_query" if state.traversal and not state.refusal else "answer_unsupported"


def run_query(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    try:
        return {"rows": graph_store_for(context).query(state.cypher, state.params)}
    except GraphStoreError as exc:
        return {"rows": [], "refusal": str(exc)}


def compose_answer(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    sources = Sources()
    if state.refusal:
        answer = prompts.REFUSED_ANSWER.format(reason=state.refusal)
    else:
        answer = ANSWER_WRITERS.get(state.traversal, write_generated_answer)(state, sources, context.max_listed)
    return {"messages": [sources.message(answer, state)], "citations": sources.citations()}


def answer_unsupported(state: State) -> dict:
    if state.refusal:
        text = state.refusal if not state.cypher else prompts.REFUSED_ANSWER.format(reason=state.refusal)
    else:
        text = prompts.UNSUPPORTED_ANSWER
    extra = {"abstained": True, "answerability": state.answerability} if state.answerability else {}
    return {"messages": [AIMessage(content=text, additional_kwargs={"answer_text": text, **extra})]}


def answer_empty_graph(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    text = prompts.NO_GRAPH_ANSWER.format(location=graph_store_for(context).location)
    return {"messages": [AIMessage(content=text, additional_kwargs={"answer_text": text})]}


# --- answers written from rows ------------------------------------------------------------------

class Sources:
    """Numbers the documents an answer cites, in the order it first cites them."""

    def __init__(self):
        self.numbers: dict[str, int] = {}
        self.facts: dict[str, list[str]] = {}

    def cite(self, source: str | None, fact: str = "") -> str:
        if not source:
            return ""
        number = self.numbers.setdefault(source, len(self.numbers) + 1)
        if fact and fact not in self.facts.setdefault(source, []):
            self.facts[source].append(fact)
        return f" [{number}]"

    def citations(self) -> list[dict]:
        return [{"number": n, "source": s, "label": Path(s).name, "cited": True, "cited_by": "graph",
                 "evidence": "; ".join(self.facts.get(s, [])), "text": ""} for s, n in self.numbers.items()]

    def message(self, answer: str, state: State) -> AIMessage:
        footer = "\n".join(f"[{n}] {Path(s).name}" for s, n in self.numbers.items())
        content = f"{answer}\n\nSources:\n{footer}" if footer else answer
        return AIMessage(content=content, additional_kwargs={
            "answer_text": answer, "traversal": state.traversal, "chosen_by": state.chosen_by,
            "cypher": state.cypher, "params": state.params})


def _titled(row: dict) -> str:
    return f"{row['movie']} ({row['year']})" if row.get("year") else str(row["movie"])


def _listing(rows: list[dict], sources: Sources, limit: int, fact: str) -> str:
    seen, parts = set(), []
    for row in rows:
        if row["movie"] in seen:
            continue
        seen.add(row["movie"])
        parts.append(_titled(row) + sources.cite(row.get("source"), fact.format(**row)))
    more = f", and {len(parts) - limit} more" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more


def write_recommendation(state: State, sources: Sources, limit: int) -> str:
    person, genre = state.params["person"], state.params["genre"]
    if not state.rows:
        return prompts.NOTHING_FOUND_ANSWER.format(what=f"{genre.lower()} film starring an actor",
                                                   who=f"who worked with {person}")
    films: dict[str, dict] = {}
    for row in state.rows:
        film = films.setdefault(row["movie"], {"row": row, "actors": {}})
        film["actors"].setdefault(row["actor"], []).append(row)
    ranked = sorted(films.values(), key=lambda f: (-len(f["actors"]), -(f["row"]["year"] or 0), f["row"]["movie"]))
    best = ranked[0]
    paths = []
    for actor, rows in best["actors"].items():
        vias = []
        for row in rows[:2]:
            role = "directed" if row["person_directed_via"] else "acted in"
            vias.append(f"{row['via_movie']} ({row['via_year']})"
                        + sources.cite(row["via_source"], f"{actor} acted in {row['via_movie']}, which {person} {role}"))
        if rows[0]["person_directed_via"]:
            where = f"was in {person}'s " + " and ".join(vias)
        else:
            where = f"acted with {person} in " + " and ".join(vias)
        stars = sources.cite(rows[0]["actor_source"], f"{actor} acted in {best['row']['movie']}, a {genre.lower()}")
        paths.append(f"{actor} {where} and stars in {best['row']['movie']}{stars}")
    answer = (f"I recommend {_titled(best['row'])}, a {genre.lower()}. Why: " + "; ".join(paths) + ".")
    others = [f"{_titled(f['row'])} with {', '.join(f['actors'])}"
              + sources.cite(f["row"]["actor_source"], f"{', '.join(f['actors'])} in {f['row']['movie']}, a {genre.lower()}")
              for f in ranked[1:limit]]
    if others:
        answer += f" Other {genre.lower()} films starring someone who worked with {person}: " + "; ".join(others) + "."
    return answer


def write_movies_in_genre_by_director(state: State, sources: Sources, limit: int) -> str:
    person, genre = state.params["person"], state.params["genre"]
    if not state.rows:
        return prompts.NOTHING_FOUND_ANSWER.format(what=f"{genre.lower()} films directed", who=f"by {person}")
    return f"{person} directed these {genre.lower()} films: " + _listing(
        state.rows, sources, limit, f"{person} directed {{movie}}, a {genre.lower()}") + "."


def write_movies_with_both(state: State, sources: Sources, limit: int) -> str:
    a, b = state.params["person"], state.params["other_person"]
    if not state.rows:
        return prompts.NOTHING_FOUND_ANSWER.format(what="film", who=f"both {a} and {b}")
    return f"{a} and {b} both worked on: " + _listing(state.rows, sources, limit, f"{a} and {b} worked on {{movie}}") + "."


def write_coworkers(state: State, sources: Sources, limit: int) -> str:
    person = state.params["person"]
    if not state.rows:
        return prompts.NOTHING_FOUND_ANSWER.format(what="actors who worked", who=f"with {person}")
    actors: dict[str, list[dict]] = {}
    for row in state.rows:
        actors.setdefault(row["actor"], []).append(row)
    ranked = sorted(actors.items(), key=lambda item: (-len(item[1]), item[0]))
    parts = []
    for actor, rows in ranked[:limit]:
        films = ", ".join(r["movie"] + sources.cite(r["source"], f"{actor} acted in {r['movie']}") for r in rows)
        parts.append(f"{actor} ({films})")
    more = f", and {len(ranked) - limit} more" if len(ranked) > limit else ""
    return f"Actors who worked with {person}, most films first: " + ", ".join(parts) + more + "."


def write_movies_directed_by(state: State, sources: Sources, limit: int) -> str:
    person = state.params["person"]
    if not state.rows:
        return prompts.NOTHING_FOUND_ANSWER.format(what="films directed", who=f"by {person}")
    return f"{person} directed " + _listing(state.rows, sources, limit, f"{person} directed {{movie}}") + "."


def write_movies_with_actor(state: State, sources: Sources, limit: int) -> str:
    person = state.params["person"]
    if not state.rows:
        return prompts.NOTHING_FOUND_ANSWER.format(what="films starring", who=person)
    return f"{person} acted in " + _listing(state.rows, sources, limit, f"{person} acted in {{movie}}") + "."


def write_movies_in_genre(state: State, sources: Sources, limit: int) -> str:
    genre = state.params["genre"]
    if not state.rows:
        return prompts.NOTHING_FOUND_ANSWER.format(what="films", who=f"the genre {genre}")
    return f"{genre} films: " + _listing(state.rows, sources, limit, f"{{movie}} is a {genre.lower()}") + "."


def write_movie_details(state: State, sources: Sources, limit: int) -> str:
    if not state.rows:
        return prompts.NOTHING_FOUND_ANSWER.format(what="people", who=state.params["movie"])
    title = _titled(state.rows[0])
    directors = [r for r in state.rows if r["directed"]]
    actors = [r for r in state.rows if not r["directed"]]
    parts = []
    if directors:
        parts.append(f"{title} was directed by " + " and ".join(r["person"] for r in directors)
                     + sources.cite(directors[0]["source"], f"{directors[0]['person']} directed {directors[0]['movie']}"))
    if actors:
        more = f" and {len(actors) - limit} more" if len(actors) > limit else ""
        parts.append("it stars " + ", ".join(r["person"] for r in actors[:limit]) + more
                     + sources.cite(actors[0]["source"], f"cast of {actors[0]['movie']}"))
    return "; ".join(parts) + "."


def write_generated_answer(state: State, sources: Sources, limit: int) -> str:
    if not state.rows:
        return "The query found nothing in the graph."
    lines = []
    for row in state.rows[:limit]:
        cited = "".join(sources.cite(v, "a row of the query") for k, v in row.items() if "source" in k and isinstance(v, str))
        lines.append(", ".join(f"{k}: {v}" for k, v in row.items() if "source" not in k) + cited)
    more = f"\n(and {len(state.rows) - limit} more rows)" if len(state.rows) > limit else ""
    return "The graph answers:\n" + "\n".join(f"- {line}" for line in lines) + more


ANSWER_WRITERS = {
    "recommend_in_genre_via_coworker": write_recommendation,
    "movies_in_genre_by_director": write_movies_in_genre_by_director,
    "movies_with_both": write_movies_with_both,
    "coworkers_of_person": write_coworkers,
    "movies_directed_by": write_movies_directed_by,
    "movies_with_actor": write_movies_with_actor,
    "movies_in_genre": write_movies_in_genre,
    "movie_details": write_movie_details,
}

builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(read_graph)
builder.add_node(choose_traversal)
builder.add_node(generate_cypher)
builder.add_node(run_query)
builder.add_node(compose_answer)
builder.add_node(answer_unsupported)
builder.add_node(answer_empty_graph)
builder.add_edge(START, "read_graph")
builder.add_conditional_edges("read_graph", route_after_read)
builder.add_conditional_edges("choose_traversal", route_after_choice)
builder.add_conditional_edges("generate_cypher", route_after_generate)
builder.add_edge("run_query", "compose_answer")
builder.add_edge("compose_answer", END)
builder.add_edge("answer_unsupported", END)
builder.add_edge("answer_empty_graph", END)

graph = builder.compile(name="rag_graph")
