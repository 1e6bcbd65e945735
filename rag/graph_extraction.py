"""Documents in, film facts out: entities (Person, Movie, Genre) and relations (DIRECTED,
ACTED_IN, HAS_GENRE) for the graph store, each relation citing the document it came from.

    python -m rag.graph_ingest data/movies/films              # the command-line way

    facts = extract_with_rules(load_document("data/movies/films/inception.md"))
    facts.directors, facts.cast[:2], facts.genres   # ['Christopher Nolan'], ['Leonardo DiCaprio', ...], [...]
    report = ingest_documents(open_graph_store(":memory:"), ["data/movies/films"])

Two extractors, combined: labelled lines ("Director: ...", "Cast: ...", "Genre: ...", "Year: ...")
are parsed by code, exactly; a chat model with structured output (grammar-constrained on the
embedded models) reads free prose. Everything the model returns is checked against the text: a
name or genre that does not occur in the document is dropped, so a small model's guesses never
reach the graph. `extraction="auto"` asks the model only when the labelled lines leave a field
empty; "rules" never asks it; "model" always does (labelled lines still win where both exist).

Ingestion is incremental by content hash: an unchanged document is skipped, an edited one has its
old facts removed before the new ones go in, and a document's hash is recorded only after its
facts are stored, so an interrupted ingest redoes that document next time.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Literal

from pydantic import BaseModel, Field

from rag.demo import film_genres
from rag.documents import DocumentError, SourceDocument, iter_documents
from rag.graph_store import Entity, GraphStore, Relation

Extraction = Literal["auto", "rules", "model"]
MAX_NAME_CHARS = 120
MODEL_TEXT_CHARS = 1500

EXTRACTION_PROMPT = """Read the film description and list the facts it states. Copy names exactly as written.

{text}"""


class FilmFacts(BaseModel):
    """What one film document says (the structured output the model fills)."""

    title: str = Field(default="", description="the film's title")
    year: int | None = Field(default=None, description="release year")
    directors: list[str] = Field(default_factory=list, max_length=4, description="people who directed the film")
    cast: list[str] = Field(default_factory=list, max_length=12, description="actors who star in the film")
    genres: list[str] = Field(default_factory=list, max_length=4, description="genres, e.g. thriller, drama, comedy")


# --- names ---------------------------------------------------------------------------------------

def normalize_name(name: str) -> str:
    """One spelling per name: Unicode NFC, single spaces, no surrounding quotes or list punctuation.

    >>> normalize_name('  "Ciara\\u0301n   Hinds", ')
    'Ciarán Hinds'
    >>> normalize_name("Robert Downey Jr.")
    'Robert Downey Jr.'
    """
    text = unicodedata.normalize("NFC", str(name or ""))
    text = " ".join(text.split())
    text = text.strip(" ,;\"'“”‘’")
    return text if "\n" not in text and len(text) <= MAX_NAME_CHARS else ""


def normalize_genre(genre: str) -> str:
    """'  science FICTION ' -> 'Science fiction'; 'Thrillers' stays 'Thrillers' (labels are taken as written)."""
    text = normalize_name(genre).lower()
    return text[:1].upper() + text[1:]


def folded(text: str) -> str:
    """Lower case, accents removed, punctuation as spaces, padded: for matching names inside text.

    >>> folded("Léon: The Professional")
    ' leon the professional '
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " " + " ".join(re.sub(r"[^\w]+", " ", plain).split()) + " "


def occurs_in(name: str, text: str) -> bool:
    return bool(name.strip()) and folded(name) in folded(text)


def split_names(value: str) -> list[str]:
    """'A, B and C' -> ['A', 'B', 'C'] (normalised, empty ones dropped)."""
    parts = re.split(r",|;|\band\b|&", value)
    return [n for n in (normalize_name(p) for p in parts) if n]


# --- extraction ----------------------------------------------------------------------------------

_LABELLED_LINE = re.compile(
    r"^\s*[-*]?\s*(year|released|directors?|directed by|cast|starring|stars|genres?)\s*:\s*(.+?)\s*$",
    re.IGNORECASE | re.MULTILINE)
_HEADING = re.compile(r"^\s*#\s+(.+?)\s*$", re.MULTILINE)


def extract_with_rules(doc: SourceDocument) -> FilmFacts:
    """The facts written as labelled lines, and the title from the first heading (or the document title)."""
    heading = _HEADING.search(doc.text)
    title = normalize_name(re.sub(r"\s*\(\d{4}\)\s*$", "", heading.group(1) if heading else doc.title or ""))
    facts = FilmFacts(title=title)
    for label, value in _LABELLED_LINE.findall(doc.text):
        label = label.lower()
        if label in ("year", "released"):
            if year := re.search(r"\b(1[89]\d\d|20\d\d)\b", value):
                facts.year = int(year.group(1))
        elif label.startswith("direct"):
            facts.directors += split_names(value)
        elif label in ("cast", "starring", "stars"):
            facts.cast += split_names(value)
        else:
            facts.genres += [normalize_genre(g) for g in split_names(value)]
    return facts


_WORD = r"(?:Jr\.|Sr\.|[A-Z]\.|[A-Z][\w'-]+)"
_NAME = rf"{_WORD}(?:\s+(?:de|del|von|van|{_WORD}))+"
_NAMES = rf"{_NAME}(?:\s*,\s*{_NAME})*(?:,?\s+and\s+{_NAME})?"
_PROSE_DIRECTOR = re.compile(rf"\bdirected by\s+({_NAME})")
_PROSE_CAST = [re.compile(rf"\b({_NAME})\s+(?:plays|stars as|co-stars)\b"),
               re.compile(rf"\bstarring\s+({_NAMES})"),
               re.compile(rf"\b({_NAMES})\s+(?:also\s+)?(?:star|stars|co-star)\b")]
_PROSE_YEAR = re.compile(r"\b(?:is|was) an? (1[89]\d\d|20\d\d)\b")


def extract_from_prose(doc: SourceDocument) -> FilmFacts:
    """Facts stated in common prose patterns ("a 1995 crime thriller ... directed by X", "X plays ...",
    "starring X and Y"); genres are the known genre words of the first sentence."""
    text = " ".join(doc.text.split())
    body = _HEADING.sub("", doc.text, count=1).strip()
    first_sentence = re.split(r"(?<=[.!?])\s", " ".join(body.split()), maxsplit=1)[0].lower()
    year = _PROSE_YEAR.search(text)
    cast: list[str] = []
    for pattern in _PROSE_CAST:
        for match in pattern.findall(text):
            cast += split_names(match)
    directors = [normalize_name(n) for n in _PROSE_DIRECTOR.findall(text)]
    return FilmFacts(year=int(year.group(1)) if year else None, directors=_unique(directors),
                     cast=[n for n in _unique(cast) if n not in directors],
                     genres=[normalize_genre(g) for g in film_genres() if re.search(rf"\b{g}\b", first_sentence)])


def extract_with_model(doc: SourceDocument, model) -> FilmFacts:
    """Ask a chat model for the facts under a JSON schema, then keep only what the text supports."""
    text = doc.text[:MODEL_TEXT_CHARS]
    raw = model.with_structured_output(FilmFacts).invoke(EXTRACTION_PROMPT.format(text=text))
    if isinstance(raw, dict):
        raw = FilmFacts.model_validate(raw)
    return validate_against_text(raw, text)


def validate_against_text(facts: FilmFacts, text: str) -> FilmFacts:
    """Drop every name, genre or year the text does not contain (a model's guesses never reach the graph)."""
    def supported(names: list[str], normalize=normalize_name) -> list[str]:
        return _unique(n for n in (normalize(x) for x in names) if n and occurs_in(n, text))

    year = facts.year if facts.year and re.search(rf"\b{facts.year}\b", text) else None
    title = normalize_name(facts.title)
    return FilmFacts(title=title if occurs_in(title, text) else "", year=year, directors=supported(facts.directors),
                     cast=supported(facts.cast), genres=supported(facts.genres, normalize_genre))


def merge_facts(primary: FilmFacts, secondary: FilmFacts) -> FilmFacts:
    """Fields from `primary` (labelled lines) win; `secondary` (the model) fills the empty ones."""
    return FilmFacts(title=primary.title or secondary.title, year=primary.year or secondary.year,
                     directors=primary.directors or secondary.directors, cast=primary.cast or secondary.cast,
                     genres=primary.genres or secondary.genres)


def _unique(items: Iterable[str]) -> list[str]:
    seen, kept = set(), []
    for item in items:
        if folded(item) not in seen:
            seen.add(folded(item))
            kept.append(item)
    return kept


def facts_to_graph(facts: FilmFacts, source: str) -> tuple[list[Entity], list[Relation]]:
    """Entities and relations for one film; each relation and the Movie node carry `source`."""
    cited = {"source": source}
    movie = Entity("Movie", facts.title, {"year": facts.year if facts.year is not None else 0, **cited})
    entities = [movie]
    relations = [Relation("DIRECTED", "Person", name, "Movie", facts.title, cited) for name in _unique(facts.directors)]
    relations += [Relation("ACTED_IN", "Person", name, "Movie", facts.title, cited) for name in _unique(facts.cast)]
    relations += [Relation("HAS_GENRE", "Movie", facts.title, "Genre", genre, cited) for genre in _unique(facts.genres)]
    return entities, relations


# --- ingestion -----------------------------------------------------------------------------------

@dataclass
class GraphIngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # README files: about the data, not data
    errors: list[DocumentError] = field(default_factory=list)
    extracted_by: dict[str, str] = field(default_factory=dict)  # source -> "rules" | "model" | "rules+model"
    relations: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        text = (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{self.relations} relations stored in {self.seconds:.1f} s")
        if self.skipped:
            text += f"; {len(self.skipped)} README file(s) left out"
        if self.errors:
            text += f"; {len(self.errors)} skipped:\n" + "\n".join(f"  - {e}" for e in self.errors)
        return text


def document_hashes(store: GraphStore) -> dict[str, str]:
    """source -> content hash of every document already in the graph."""
    if not store.schema().has_label("Document"):
        return {}
    return {row["source"]: row["hash"] for row in
            store.query("MATCH (d:Document) RETURN d.name AS source, d.content_hash AS hash")}


def extract_facts(doc: SourceDocument, extraction: Extraction = "auto", model_spec: str = "local") -> tuple[FilmFacts, str]:
    """The facts of one document and which extractor found them."""
    facts = extract_with_rules(doc)
    if not (facts.directors or facts.cast or facts.genres):
        facts = merge_facts(facts, extract_from_prose(doc))
    complete = facts.title and facts.directors and facts.cast and facts.genres
    if extraction == "rules" or (extraction == "auto" and complete):
        return facts, "rules"
    from models import load_chat_model

    found = extract_with_model(doc, load_chat_model(model_spec))
    has_rules = bool(facts.directors or facts.cast or facts.genres)
    return merge_facts(facts, found), "rules+model" if has_rules else "model"


def ingest_documents(store: GraphStore, paths: Iterable[str | Path], *, extraction: Extraction = "auto",
                     model_spec: str = "local", progress: Callable[[int, int, str], None] | None = None,
                     batch_size: int = 64) -> GraphIngestReport:
    """Extract film facts from files or folders into `store`; unchanged documents are skipped.
    Facts are written in batches of `batch_size` documents (one upsert per label and type)."""
    report = GraphIngestReport()
    started = time.perf_counter()
    items = list(iter_documents([Path(p) for p in paths]))
    known = document_hashes(store)
    batch: list[tuple[str, str, FilmFacts]] = []  # (source, content hash, facts)
    for done, item in enumerate(items):
        if progress:
            progress(done, len(items), Path(getattr(item, "source", "") or "").name)
        if isinstance(item, DocumentError):
            report.errors.append(item)
            continue
        source = str(Path(item.source).resolve())
        if Path(source).stem.upper() == "README":
            report.skipped.append(source)
            continue
        content_hash = item.metadata["sha256"]
        if known.get(source) == content_hash:
            report.unchanged.append(source)
            continue
        facts, extracted_by = extract_facts(item, extraction, model_spec)
        if not facts.title or not (facts.directors or facts.cast or facts.genres):
            report.errors.append(DocumentError(
                f"{source}: no film facts found. Give the film a '# Title' heading and labelled lines "
                "('Director: ...', 'Cast: ...', 'Genre: ...'), or ingest with a larger --model.", source=source))
            continue
        report.extracted_by[source] = extracted_by
        batch.append((source, content_hash, facts))
        if len(batch) >= batch_size:
            _store_batch(store, batch, known, report)
    _store_batch(store, batch, known, report)
    if progress:
        progress(len(items), len(items), "")
    report.seconds = time.perf_counter() - started
    return report


def _store_batch(store: GraphStore, batch: list[tuple[str, str, FilmFacts]], known: dict[str, str],
                 report: GraphIngestReport) -> None:
    """Replace the facts of edited documents, add the new ones, then record each document's hash."""
    entities: list[Entity] = []
    relations: list[Relation] = []
    for source, _, facts in batch:
        if source in known:
            store.forget_source(source)
        more_entities, more_relations = facts_to_graph(facts, source)
        entities += more_entities
        relations += more_relations
    if batch:
        store.upsert_entities(entities)
        store.upsert_relations(relations)
        store.upsert_entities([Entity("Document", source, {"content_hash": content_hash, "source": source})
                               for source, content_hash, _ in batch])
    for source, _, _ in batch:
        (report.updated if source in known else report.added).append(source)
    report.relations += len(relations)
    batch.clear()
