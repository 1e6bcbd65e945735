"""Streamlit page: semantic search over the PubMedQA abstracts, with scores, the matching sentences
highlighted, and year / MeSH filters. Start it with `python -m apps.search`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root (see apps/ui/__init__.py)

import models  # noqa: E402,F401  (offline switches first)
import streamlit as st  # noqa: E402

from rag.knowledge_base import KnowledgeBase  # noqa: E402
from rag.pubmed import (  # noqa: E402
    COLLECTION,
    DEFAULT_DATA,
    highlight,
    index_pubmedqa,
    load_pubmedqa,
    search_papers,
)


def settings() -> tuple[str, str, int | None]:
    limit = os.environ.get("HEARTH_PUBMEDQA_LIMIT")
    return (os.environ.get("HEARTH_PUBMEDQA_DATA", str(DEFAULT_DATA)),
            os.environ.get("HEARTH_PUBMEDQA_COLLECTION", COLLECTION), int(limit) if limit else None)


@st.cache_resource(show_spinner=False)
def records(data: str, limit: int | None):
    return load_pubmedqa(data, limit=limit)


@st.cache_resource(show_spinner=False)
def knowledge_base(collection: str) -> KnowledgeBase:
    return KnowledgeBase(collection=collection, location=os.environ.get("HEARTH_INDEX") or None)


def ensure_indexed(kb: KnowledgeBase, data: str, limit: int | None) -> None:
    if st.session_state.get("indexed") == (kb.collection, data, limit):
        return
    items = records(data, limit)
    bar = st.progress(0.0, text=f"Indexing {len(items)} abstracts (first start only)…")
    report = index_pubmedqa(kb, items, progress=lambda done, total, name="": bar.progress(
        done / max(total, 1), text=f"Embedding abstracts: {done} of {total}"))
    bar.empty()
    if report.added:
        st.toast(report.summary())
    st.session_state.indexed = (kb.collection, data, limit)


def sidebar(data: str, limit: int | None) -> dict:
    items = records(data, limit)
    years = sorted({r.year for r in items if r.year})
    mesh_counts: dict[str, int] = {}
    for r in items:
        for term in r.meshes:
            mesh_counts[term] = mesh_counts.get(term, 0) + 1
    with st.sidebar:
        st.header("Filters")
        k = st.slider("Papers", 1, 20, 5, key="k")
        year_range = None
        if years:
            chosen = st.slider("Year", years[0], years[-1], (years[0], years[-1]), key="years")
            year_range = None if chosen == (years[0], years[-1]) else tuple(chosen)
        terms = sorted(mesh_counts, key=lambda t: (-mesh_counts[t], t))
        mesh = st.multiselect("MeSH terms (any of)", terms, key="mesh",
                              format_func=lambda t: f"{t} ({mesh_counts[t]})")
        st.caption(f"{len(items)} abstracts from {data}")
    return {"k": k, "years": year_range, "mesh": mesh or None}


def show(hits) -> None:
    if not hits:
        st.info("No papers match (try fewer filters).")
    for rank, hit in enumerate(hits, start=1):
        st.markdown(f"**{rank}. {hit.title}**  \nscore {hit.score:.3f} · {hit.year} · PMID {hit.pmid} · "
                    f"answer: *{hit.decision}*")
        if hit.meshes:
            st.caption("MeSH: " + ", ".join(hit.meshes))
        # markdown control characters in abstracts ([, *, _) must not render as markup
        safe = "".join("\\" + ch if ch in "\\`*_[]#<>~$:" else ch for ch in hit.text)
        marked = highlight(safe, ["".join("\\" + ch if ch in "\\`*_[]#<>~$:" else ch for ch in s)
                                  for s in hit.highlights], lambda s: f":orange-background[{s}]")
        with st.expander("Matching passage", expanded=rank <= 3):
            st.markdown(marked)


def main() -> None:
    st.set_page_config(page_title="Hearth · PubMedQA search", page_icon="🔎", layout="wide")
    st.title("Search PubMedQA abstracts")
    data, collection, limit = settings()
    try:
        kb = knowledge_base(collection)
        ensure_indexed(kb, data, limit)
        filters = sidebar(data, limit)
    except Exception as exc:  # noqa: BLE001 - shown with its fix (missing data, locked index, ...)
        st.error(f"{type(exc).__name__}: {exc}")
        return
    query = st.text_input("Question or topic", key="query", placeholder="e.g. statins and the risk of dementia")
    if query:
        show(search_papers(kb, query, k=filters["k"], years=filters["years"], mesh=filters["mesh"]))


main()
