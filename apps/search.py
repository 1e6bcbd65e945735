"""Semantic search over the PubMedQA abstracts: a Streamlit page, or results printed on the CLI.

    python -m apps.search                                     # http://127.0.0.1:8502
    python -m apps.search --query "statins and dementia" --k 5
    python -m apps.search --query "asthma in children" --mesh Child --years 2000 2010 --json
    python -m apps.search --data ../shared/data/pubmedqa_pqal --limit 100 --query "..."

The first run embeds the 1,000 abstracts into the collection "pubmedqa" (one to two minutes on a
laptop CPU, with a progress bar); later runs reuse the index. The page is apps/ui/search_page.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from apps.chat import streamlit_command
from models.progress import progress_bar

PAGE = Path(__file__).parent / "ui" / "search_page.py"


def open_index(data: str, collection: str, index_dir: str, limit: int | None):
    """The knowledge base for the collection, indexing the records it does not hold yet."""
    from rag.knowledge_base import KnowledgeBase
    from rag.pubmed import index_pubmedqa, load_pubmedqa

    records = load_pubmedqa(data, limit=limit)
    kb = KnowledgeBase(collection=collection, location=index_dir or None)
    report = index_pubmedqa(kb, records, progress=progress_bar("Indexing PubMedQA", unit="abstract"))
    if report.added:
        print(report.summary(), file=sys.stderr)
    return kb


def print_hits(hits, as_json: bool) -> None:
    from rag.pubmed import highlight

    if as_json:
        print(json.dumps([hit.__dict__ for hit in hits], indent=2))
        return
    if not hits:
        print("No papers match (try fewer filters).")
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}. [{hit.score:.3f}] {hit.title}")
        print(f"   PMID {hit.pmid} · {hit.year} · answer: {hit.decision} · MeSH: {', '.join(hit.meshes[:6])}")
        for sentence in hit.highlights:
            print(f"   » {sentence}")
        print()


def main(argv: list[str] | None = None) -> int:
    from rag.pubmed import COLLECTION, DEFAULT_DATA

    parser = argparse.ArgumentParser(prog="python -m apps.search", description=__doc__.splitlines()[0])
    parser.add_argument("--query", help="search from the command line instead of starting the page")
    parser.add_argument("--k", type=int, default=5, help="papers to show")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="PubMedQA folder (holding ori_pqal.json) or file")
    parser.add_argument("--limit", type=int, default=None, help="index only the first N records (quick runs)")
    parser.add_argument("--collection", default=COLLECTION)
    parser.add_argument("--index-dir", default="", help="Qdrant folder or server URL (default .hearth/qdrant)")
    parser.add_argument("--mesh", default=None, help="only papers with this MeSH term (e.g. Humans)")
    parser.add_argument("--years", type=int, nargs=2, metavar=("FROM", "TO"), 
                        help="only papers published in these years")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HEARTH_SEARCH_PORT", 8502)))
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    import models  # noqa: F401  (offline switches, inherited by Streamlit)

    if args.query is None:
        os.environ.update({"HEARTH_PUBMEDQA_DATA": args.data, "HEARTH_PUBMEDQA_COLLECTION": args.collection})
        if args.index_dir:
            os.environ["HEARTH_INDEX"] = args.index_dir
        if args.limit:
            os.environ["HEARTH_PUBMEDQA_LIMIT"] = str(args.limit)
        print(f"Starting the search page on http://{args.address}:{args.port} (Ctrl+C to stop)", flush=True)
        os.execv(sys.executable, streamlit_command(PAGE, args.port, args.address))

    from rag.pubmed import PubMedDataError, search_papers
    from rag.store import VectorStoreError

    try:
        kb = open_index(args.data, args.collection, args.index_dir, args.limit)
        hits = search_papers(kb, args.query, k=args.k, years=tuple(args.years) if args.years else None, mesh=args.mesh)
    except (PubMedDataError, VectorStoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_hits(hits, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
