"""Ask the RAG graph from the command line.

    python -m apps.ask "How many days of annual leave do I get?"
    python -m apps.ask --ingest ~/docs --collection mydocs "What is our refund policy?"
    python -m apps.ask --json --thread me "And how many can I carry over?"     # multi-turn
    python -m apps.ask --model ollama:qwen2.5:7b "..."
    python -m apps.ask --mode rag_agentic "Plan a 3-day trip to Lisbon"           # see --list-modes

The first run indexes the sample handbook (data/handbook) when the default collection is empty.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid

import models  # noqa: F401  (offline switches before anything else loads)
from models.progress import progress_bar


def ingest_with_progress(kb, paths) -> None:
    report = kb.ingest(paths, progress=progress_bar("Indexing"))
    print(report.summary(), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.ask", description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", help="the question; omit with --ingest to only index")
    parser.add_argument("--mode", default="rag", help="which graph answers (default rag; --list-modes shows all)")
    parser.add_argument("--list-modes", action="store_true", help="list the modes with an example question and exit")
    parser.add_argument("--ingest", nargs="+", metavar="PATH", help="files or folders to index first (txt, md, html, pdf)")
    parser.add_argument("--collection", default=None, help="collection to search (default: the mode's demo collection)")
    parser.add_argument("--model", default=None, help="chat model spec (default: local)")
    parser.add_argument("--embeddings", default=os.environ.get("HEARTH_EMBEDDINGS", "local"),
                        help="embedding model spec (default $HEARTH_EMBEDDINGS or local); "
                             "local?query_encoder=FOLDER for static query vectors (training.query_distill)")
    parser.add_argument("--index-dir", default="", help="Qdrant folder or server URL (default .hearth/qdrant)")
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--thread", default=None, help="conversation id: reuse it to keep memory across calls")
    parser.add_argument("--checkpoints", default=None, help="sqlite:///PATH or postgresql://... (default .hearth/checkpoints.sqlite)")
    parser.add_argument("--json", action="store_true", help="print the answer and citations as JSON")
    args = parser.parse_args(argv)
    from graphs.chat_modes import MODES, UnknownModeError, get_mode

    if args.list_modes:
        for mode in MODES.values():
            print(f"{mode.name:20} {mode.title}\n{'':20} e.g. python -m apps.ask --mode {mode.name} {json.dumps(mode.example)}")
        return 0
    try:
        mode = get_mode(args.mode)
    except UnknownModeError as exc:
        parser.error(str(exc))
    if not args.question and not args.ingest:
        parser.error("give a question, --ingest PATH, or both")

    from graphs.checkpointing import open_checkpointer
    from rag.answering import open_knowledge_base
    from models.spec import ModelSpecError
    from rag.graph_store import GraphStoreError
    from rag.store import VectorStoreError

    if args.model:
        from models.spec import parse_model_spec

        try:  # a bad spec is reported before any work, even when the answer would need no model
            parse_model_spec(args.model)
        except ModelSpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    context = mode.make_context(collection=args.collection, embeddings=args.embeddings,
                                index_location=args.index_dir or None, top_k=args.top_k, model=args.model)
    try:
        if args.ingest and hasattr(context, "graph_store"):
            from rag.graph_ingest import ingest

            report = ingest(args.ingest, context.graph_store, context.model, progress=progress_bar("Extracting"))
            print(report.summary(), file=sys.stderr)
        elif args.ingest:
            if not hasattr(context, "collection"):
                parser.error(f"--ingest indexes documents into a collection; mode {mode.name} has none")
            ingest_with_progress(open_knowledge_base(context.collection, context.index_location, context.embeddings), args.ingest)
        elif mode.prepare:
            mode.prepare_data(context, progress_bar(f"First run: indexing {mode.demo_data}"))
        if not args.question:
            return 0
        with open_checkpointer(args.checkpoints) as saver:
            graph = mode.compile(checkpointer=saver)
            config = {"configurable": {"thread_id": args.thread or uuid.uuid4().hex}}
            state = graph.invoke({"messages": [("human", args.question)]}, config, context=context)
    except (ModelSpecError, VectorStoreError, GraphStoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    answer = state["messages"][-1]
    if args.json:
        print(json.dumps({"question": args.question, "answer": answer.additional_kwargs.get("answer_text", answer.content),
                          "abstained": bool(answer.additional_kwargs.get("abstained")),
                          "citations": [{k: v for k, v in c.items() if k != "text"} for c in state.get("citations", [])],
                          "thread": config["configurable"]["thread_id"]}, indent=2))
    else:
        print(answer.content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
