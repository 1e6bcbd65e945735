"""Questions to read-only, parameterised Cypher: entity linking, templated traversals, and checks
for model-written Cypher.

    linked = link_entities("Recommend a thriller starring an actor who also worked with Christopher Nolan",
                           {"person": ["Christopher Nolan", ...], "genre": ["Thriller", ...], "movie": [...]})
    # -> {"person": ["Christopher Nolan"], "genre": ["Thriller"], "movie": []}
    best_traversals(question, linked, schema)       # -> [TRAVERSALS["recommend_in_genre_via_coworker"]]

The question's text never enters a query: names found in it are matched against the names the
graph holds, and only those graph names travel, as `$parameters`, into fixed Cypher templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.demo import film_genres
from rag.graph_extraction import folded
from rag.graph_store import GraphSchema, UnsafeCypherError, check_read_only

ENTITY_LABELS = {"person": "Person", "movie": "Movie", "genre": "Genre"}
GENRE_SYNONYMS = {"sci fi": "science fiction", "scifi": "science fiction", "thrillers": "thriller",
                  "spy film": "spy", "romantic": "romance", "comedies": "comedy", "dramas": "drama"}


@dataclass(frozen=True)
class Traversal:
    """A fixed read-only Cypher template with typed slots (parameter -> entity kind)."""

    name: str
    description: str
    slots: tuple[tuple[str, str], ...]
    cypher: str
    cues: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()  # labels and relationship types the live schema must have

    def fits(self, linked: dict[str, list[str]], schema: GraphSchema | None = None) -> bool:
        wanted: dict[str, int] = {}
        for _, kind in self.slots:
            wanted[kind] = wanted.get(kind, 0) + 1
        if any(len(linked.get(kind, [])) < n for kind, n in wanted.items()):
            return False
        if schema is None:
            return True
        have = set(schema.nodes) | schema.relationship_types()
        return all(need in have for need in self.needs)

    def parameters(self, linked: dict[str, list[str]]) -> dict[str, str]:
        used: dict[str, int] = {}
        params = {}
        for name, kind in self.slots:
            params[name] = linked[kind][used.get(kind, 0)]
            used[kind] = used.get(kind, 0) + 1
        return params

    def cue_score(self, question: str) -> int:
        text = folded(question)
        return sum(1 for cue in self.cues if f" {cue} " in text)


_BASE = ("Person", "Movie", "ACTED_IN")
TRAVERSALS: dict[str, Traversal] = {t.name: t for t in [
    Traversal(
        "recommend_in_genre_via_coworker",
        "recommend a film of a genre starring an actor who also worked with a person",
        (("genre", "genre"), ("person", "person")),
        "MATCH (p:Person {name: $person})-[w:DIRECTED|ACTED_IN]->(via:Movie)<-[a1:ACTED_IN]-(a:Person)"
        "-[a2:ACTED_IN]->(m:Movie)-[:HAS_GENRE]->(:Genre {name: $genre}) "
        "WHERE a <> p AND m <> via AND NOT EXISTS { MATCH (p)-[:DIRECTED|ACTED_IN]->(m) } "
        "RETURN m.name AS movie, m.year AS year, m.source AS movie_source, a.name AS actor, via.name AS via_movie, "
        "via.year AS via_year, a1.source AS via_source, a2.source AS actor_source, "
        "EXISTS { MATCH (p)-[:DIRECTED]->(via) } AS person_directed_via "
        "ORDER BY movie, actor, via_year",
        ("recommend", "suggest", "also", "worked", "starring", "stars", "who"), _BASE + ("Genre", "HAS_GENRE", "DIRECTED")),
    Traversal(
        "movies_in_genre_by_director",
        "films of a genre directed by a person",
        (("genre", "genre"), ("person", "person")),
        "MATCH (p:Person {name: $person})-[d:DIRECTED]->(m:Movie)-[:HAS_GENRE]->(:Genre {name: $genre}) "
        "RETURN m.name AS movie, m.year AS year, d.source AS source ORDER BY year",
        ("directed", "direct", "by", "did", "made"), ("Person", "Movie", "Genre", "DIRECTED", "HAS_GENRE")),
    Traversal(
        "movies_with_both",
        "films in which two people both worked",
        (("person", "person"), ("other_person", "person")),
        "MATCH (p:Person {name: $person})-[r1:DIRECTED|ACTED_IN]->(m:Movie)"
        "<-[r2:DIRECTED|ACTED_IN]-(q:Person {name: $other_person}) "
        "RETURN m.name AS movie, m.year AS year, r1.source AS source ORDER BY year",
        ("both", "together", "and"), _BASE),
    Traversal(
        "coworkers_of_person",
        "actors who worked with a person (in films the person directed or acted in)",
        (("person", "person"),),
        "MATCH (p:Person {name: $person})-[w:DIRECTED|ACTED_IN]->(m:Movie)<-[r:ACTED_IN]-(a:Person) WHERE a <> p "
        "RETURN a.name AS actor, m.name AS movie, m.year AS year, r.source AS source ORDER BY actor, year",
        ("actors", "who", "worked", "with", "collaborated", "co", "stars"), _BASE),
    Traversal(
        "movies_directed_by",
        "films directed by a person",
        (("person", "person"),),
        "MATCH (p:Person {name: $person})-[d:DIRECTED]->(m:Movie) RETURN m.name AS movie, m.year AS year, "
        "d.source AS source ORDER BY year",
        ("directed", "direct", "director", "made", "by"), ("Person", "Movie", "DIRECTED")),
    Traversal(
        "movies_with_actor",
        "films a person acted in",
        (("person", "person"),),
        "MATCH (p:Person {name: $person})-[r:ACTED_IN]->(m:Movie) RETURN m.name AS movie, m.year AS year, "
        "r.source AS source ORDER BY year",
        ("act", "acted", "star", "starred", "appear", "appeared", "in", "films", "movies"), _BASE),
    Traversal(
        "movies_in_genre",
        "films of a genre",
        (("genre", "genre"),),
        "MATCH (m:Movie)-[g:HAS_GENRE]->(:Genre {name: $genre}) RETURN m.name AS movie, m.year AS year, "
        "g.source AS source ORDER BY year",
        ("films", "movies", "list", "which", "recommend"), ("Movie", "Genre", "HAS_GENRE")),
    Traversal(
        "movie_details",
        "who directed and stars in a film, and its genres",
        (("movie", "movie"),),
        "MATCH (m:Movie {name: $movie})<-[r:DIRECTED|ACTED_IN]-(p:Person) "
        "RETURN m.name AS movie, m.year AS year, p.name AS person, "
        "EXISTS { MATCH (p)-[:DIRECTED]->(m) } AS directed, r.source AS source ORDER BY directed DESC, person",
        ("who", "directed", "cast", "stars", "about", "in"), _BASE),
]}


def link_entities(question: str, names: dict[str, list[str]]) -> dict[str, list[str]]:
    """The graph names (per kind) that the question mentions, in the order they appear.

    Names match whole words, case- and accent-insensitively; a surname alone names a person when
    exactly one person has it; a longer match hides a shorter one inside it ("Dark Knight" is not
    "Knight"); single-word film titles must be capitalised in the question ("drive" is a verb).

    >>> link_entities("Which thrillers did Nolan direct?", {"person": ["Christopher Nolan"], "genre": ["Thriller"]})
    {'person': ['Christopher Nolan'], 'genre': ['Thriller']}
    """
    text = folded(question)
    for synonym, genre in GENRE_SYNONYMS.items():
        text = text.replace(f" {synonym} ", f" {genre} ")
    found: list[tuple[int, int, str, str]] = []  # start, end, kind, name

    def add(kind: str, name: str, phrase: str, must_be_capitalised: bool = False) -> None:
        start = text.find(f" {phrase} ")
        while start >= 0:
            if not must_be_capitalised or _capitalised_at(question, phrase):
                found.append((start, start + len(phrase) + 1, kind, name))
                return
            start = text.find(f" {phrase} ", start + 1)

    surnames: dict[str, list[str]] = {}
    for kind, values in names.items():
        for name in values:
            phrase = folded(name).strip()
            if not phrase:
                continue
            add(kind, name, phrase, must_be_capitalised=kind == "movie" and " " not in phrase)
            if kind == "genre":
                add(kind, name, phrase + "s")
            if kind == "person" and " " in phrase:
                surnames.setdefault(phrase.split()[-1], []).append(name)
    for surname, people in surnames.items():
        if len(people) == 1 and len(surname) >= 4:
            add("person", people[0], surname, must_be_capitalised=True)
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    linked: dict[str, list[str]] = {kind: [] for kind in names}
    covered_until = -1
    for start, end, kind, name in found:
        if start < covered_until and end <= covered_until:
            continue  # inside a longer match
        if name not in linked[kind]:
            linked[kind].append(name)
        covered_until = max(covered_until, end)
    return linked


def _capitalised_at(question: str, phrase: str) -> bool:
    words = phrase.split()
    pattern = r"\b" + r"\W+".join(re.escape(w) for w in words) + r"\b"
    return any(m.group(0)[:1].isupper() for m in re.finditer(pattern, folded_keep_case(question), re.IGNORECASE))


def folded_keep_case(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def best_traversals(question: str, linked: dict[str, list[str]], schema: GraphSchema | None = None) -> list[Traversal]:
    """The traversals that use the most linked entities, narrowed by cue words; several when it stays a tie."""
    fitting = [t for t in TRAVERSALS.values() if t.fits(linked, schema)]
    if not fitting:
        return []
    most_slots = max(len(t.slots) for t in fitting)
    specific = [t for t in fitting if len(t.slots) == most_slots]
    best_cues = max(t.cue_score(question) for t in specific)
    return [t for t in specific if t.cue_score(question) == best_cues]


def check_generated_cypher(cypher: str, params: dict, schema: GraphSchema) -> str:
    """Validate model-written Cypher before it runs: read-only, one statement, values only as
    $parameters (no string literals), every label and relationship type in the live schema, and
    every $parameter supplied."""
    query = check_read_only(cypher, allow_string_literals=False)
    blank = re.sub(r"`[^`]*`", "", query)
    labels = set(re.findall(r"\(\s*\w*\s*:\s*(\w+)", blank))
    rel_types = {t for group in re.findall(r"\[\s*\w*\s*:\s*([\w|:]+)", blank) for t in re.split(r"[|:]+", group) if t}
    if unknown := sorted(labels - set(schema.nodes)):
        raise UnsafeCypherError(f"Refused: labels {unknown} are not in the graph schema "
                                f"({', '.join(sorted(schema.nodes))}).")
    if unknown := sorted(rel_types - schema.relationship_types()):
        raise UnsafeCypherError(f"Refused: relationship types {unknown} are not in the graph schema "
                                f"({', '.join(sorted(schema.relationship_types()))}).")
    if missing := sorted(set(re.findall(r"\$(\w+)", blank)) - set(params)):
        raise UnsafeCypherError(f"Refused: the query uses parameters {missing} that were not supplied.")
    return query


def genres_not_in_graph(question: str, graph_genres: list[str]) -> list[str]:
    """Common genre words the question uses that no film in the graph has (so no answer can honour them).

    >>> genres_not_in_graph("Any good westerns?", ["Thriller", "Drama"])
    ['western']
    """
    text, have = folded(question), {folded(g).strip() for g in graph_genres}
    return [g for g in film_genres() if g not in have and (f" {g} " in text or f" {g}s " in text)]


def unlinked_names(question: str, linked: dict[str, list[str]], years: set[int] | None = None) -> list[str]:
    """Names (runs of capitalised words mid-sentence) and years the question uses that match nothing
    the graph holds: a person, film or genre it does not know, or a year none of its films has.

    >>> unlinked_names("Recommend a comedy directed by Wes Anderson", {"genre": ["Comedy"], "person": []})
    ['Wes Anderson']
    >>> unlinked_names("Which thrillers did Nolan direct in 2010?", {"person": ["Christopher Nolan"]}, {2010})
    []
    """
    from rag.answerability import named_terms

    known = {word for names in linked.values() for name in names for word in folded(name).split()}
    missing = []
    for phrase in named_terms(question):
        if phrase.isdigit():
            if years is not None and int(phrase) not in years:
                missing.append(phrase)
        elif not set(folded(phrase).split()) <= known:
            missing.append(phrase)
    return missing
