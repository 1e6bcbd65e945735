"""Build the film graph from documents: extract people, films and genres into the graph store.

    python -m rag.graph_ingest data/movies/films                      # Kùzu in .hearth/graph
    python -m rag.graph_ingest ~/films --graph-store bolt://neo4j:secret@127.0.0.1:7687
    python -m rag.graph_ingest data/movies/films --extraction model --model ollama:qwen2.5:7b
    python -m apps.ask --mode rag_graph --ingest data/movies/films    # the same from the ask CLI

Re-running changes nothing for unchanged files (content hash per document); an edited file
replaces its facts. `prepare_movies` is what the apps call to build the demo graph on first use.
"""

from __future__ import annotations

import argparse
import sys

import models  # noqa: F401  (offline switches before anything else loads)
from rag.demo import DEMO_FILMS
from models.progress import ProgressCallback, progress_bar


def ingest(paths, graph_store: str = "", model: str = "local", extraction: str = "auto",
           progress: ProgressCallback | None = None):
    """Ingest files or folders into the graph store at `graph_store` (empty = default); returns the report."""
    from rag.graph_extraction import ingest_documents
    from rag.graph_store import shared_graph_store

    return ingest_documents(shared_graph_store(graph_store), paths, extraction=extraction, model_spec=model,
                            progress=progress)


def prepare_movies(context, progress: ProgressCallback | None = None):
    """Build the demo film graph when the context's graph store is empty (first start of the demo)."""
    from rag.graph_store import shared_graph_store

    if shared_graph_store(context.graph_store).count().nodes > 0:
        return None
    return ingest([DEMO_FILMS], context.graph_store, context.model, "auto", progress)


def main(argv: list[str] | None = None) -> int:
    from rag.graph_store import GraphStoreError, shared_graph_store

    parser = argparse.ArgumentParser(prog="python -m rag.graph_ingest", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[str(DEMO_FILMS)], help="files or folders (default: the demo films)")
    parser.add_argument("--graph-store", default="",
                        help="Kùzu folder, :memory: or bolt://... (default .hearth/graph or $HEARTH_GRAPH)")
    parser.add_argument("--model", default="local", help="chat model spec for prose extraction (default: local)")
    parser.add_argument("--extraction", choices=["auto", "rules", "model"], default="auto",
                        help="auto: labelled lines, the model only for what they miss; rules: no model; model: always ask it")
    parser.add_argument("--clear", action="store_true", help="empty the graph store first")
    args = parser.parse_args(argv)
    try:
        store = shared_graph_store(args.graph_store)
        if args.clear:
            store.clear()
        report = ingest(args.paths, args.graph_store, args.model, args.extraction, progress_bar("Extracting"))
    except GraphStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary(), file=sys.stderr)
    counts = store.count()
    print(f"graph {store.location}: {counts.nodes} nodes, {counts.relationships} relationships")
    return 0 if not report.errors else 1


if __name__ == "__main__":
    sys.exit(main())
