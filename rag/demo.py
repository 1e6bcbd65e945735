"""The bundled demo corpora: where they are, what they cover, and the content that belongs to them
(the Lisbon trip themes, the film genres), read from files under data/ so that generic code holds none.

    ensure_demo_corpus(kb)          # index data/travel/guides into the empty collection "travel"
    describe_collection("travel")   # "guides to Lisbon (neighbourhoods, sights, food, transport) ..."
    trip_themes()                   # [("the old town and the castle", ["Which old neighbourhood ...?", ...]), ...]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from models.progress import ProgressCallback
from models.settings import PROJECT_ROOT
from rag.knowledge_base import SAMPLE_HANDBOOK, IngestReport, KnowledgeBase

DATA = PROJECT_ROOT / "data"
TRAVEL_GUIDES = DATA / "travel" / "guides"
TRIP_THEMES = DATA / "travel" / "plans" / "trip_themes.json"
DEMO_FILMS = DATA / "movies" / "films"
FILM_GENRES = DATA / "movies" / "genres.txt"


@dataclass(frozen=True)
class DemoCorpus:
    folder: Path
    covers: str  # what the collection is about, said when a question falls outside it
    places: tuple[str, ...] = ()  # the places it covers (a question naming another place is out of scope)


DEMO_CORPORA: dict[str, DemoCorpus] = {
    "handbook": DemoCorpus(SAMPLE_HANDBOOK, "the Northwind Labs staff handbook: annual, sick and parental leave, "
                                            "expenses, travel booking, benefits, remote work, information security, "
                                            "data classification, acceptable use, code of conduct, onboarding and "
                                            "performance reviews"),
    "travel": DemoCorpus(TRAVEL_GUIDES, "travel guides to Lisbon only (its neighbourhoods, sights, museums, food, "
                                        "transport and day trips to Sintra and Cascais)",
                         places=("Lisbon", "Lisboa", "Sintra", "Cascais", "Belém", "Belem", "Alfama", "Baixa",
                                 "Chiado", "Bairro Alto", "Portugal", "Tagus")),
}


def ensure_demo_corpus(kb: KnowledgeBase, progress: ProgressCallback | None = None) -> IngestReport | None:
    """Index the bundled documents of a demo collection ("travel": the Lisbon guides, "handbook": the
    staff handbook) when it is empty; other collections are left alone."""
    corpus = DEMO_CORPORA.get(getattr(kb, "collection", ""))
    if corpus is None or kb.count() > 0:
        return None
    return kb.ingest([corpus.folder], progress=progress)


def demo_corpus(collection: str) -> DemoCorpus | None:
    return DEMO_CORPORA.get(collection)


@lru_cache(maxsize=1)
def _trip_plan() -> dict:
    return json.loads(TRIP_THEMES.read_text(encoding="utf-8"))


def trip_themes() -> list[tuple[str, list[str]]]:
    """(theme, search questions) per day of a templated trip plan, from data/travel/plans/trip_themes.json."""
    return [(day["theme"], list(day["questions"])) for day in _trip_plan()["days"]]


def trip_parts() -> list[tuple[str, str]]:
    """(title, search question) of the parts every templated trip plan has (food, getting around)."""
    return [(part["title"], part["question"]) for part in _trip_plan()["every_trip"]]


@lru_cache(maxsize=1)
def film_genres() -> tuple[str, ...]:
    """The genre words film extraction recognises in prose (lower case), from data/movies/genres.txt."""
    lines = FILM_GENRES.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))
