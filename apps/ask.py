"""Ask the RAG graph from the command line.

    python -m apps.ask "How many days of annual leave do I get?"
    python -m apps.ask --ingest ~/docs --collection mydocs "What is our refund policy?"
    python -m apps.ask --json --thread me "And how many can I carry over?"     # multi-turn
    python -m apps.ask --model ollama:qwen2.5:7b "..."

The first run indexes the sample handbook (data/handbook) when the default collection is empty.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid

from tqdm import tqdm

import models  # noqa: F401  (offline switches before anything else loads)


def ingest_with_progress(kb, paths) -> None:
    bar = tqdm(total=0, unit="file", desc="Indexing", file=sys.stderr)

    def progress(done: int, total: int, name: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(name[-40:])
        bar.refresh()

    report = kb.ingest(paths, progress=progress)
    bar.close()
    print(report.summary(), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.ask", description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", help="the question; omit with --ingest to only index")
    parser.add_argument("--ingest", nargs="+", metavar="PATH", help="files or folders to index first (txt, md, html, pdf)")
    parser.add_argument("--collection", default="handbook")
    parser.add_argument("--model", default=None, help="chat model spec (default: local)")
    parser.add_argument("--embeddings", default="local")
    parser.add_argument("--index-dir", default="", help="Qdrant folder or server URL (default .hearth/qdrant)")
    parser.add_argument("--top-k", type=int, default=4)
    parser.add_argument("--thread", default=None, help="conversation id: reuse it to keep memory across calls")
    parser.add_argument("--checkpoints", default=None, help="sqlite:///PATH or postgresql://... (default .hearth/checkpoints.sqlite)")
    parser.add_argument("--json", action="store_true", help="print the answer and citations as JSON")
    args = parser.parse_args(argv)
    if not args.question and not args.ingest:
        parser.error("give a question, --ingest PATH, or both")

    from graphs.checkpointing import open_checkpointer
    from graphs.rag.context import Context
    from graphs.rag.graph import compile_rag_graph, knowledge_base
    from models.spec import ModelSpecError
    from rag.knowledge_base import ensure_sample_handbook
    from rag.store import VectorStoreError

    context = Context(collection=args.collection, embeddings=args.embeddings, index_location=args.index_dir,
                      top_k=args.top_k, **({"model": args.model} if args.model else {}))
    try:
        kb = knowledge_base(context.collection, context.index_location, context.embeddings)
        if args.ingest:
            ingest_with_progress(kb, args.ingest)
        elif args.collection == "handbook" and kb.count() == 0:
            print("First run: indexing the sample handbook (data/handbook).", file=sys.stderr)
            ensure_sample_handbook(kb)
        if not args.question:
            return 0
        with open_checkpointer(args.checkpoints) as saver:
            graph = compile_rag_graph(checkpointer=saver)
            config = {"configurable": {"thread_id": args.thread or uuid.uuid4().hex}}
            state = graph.invoke({"messages": [("human", args.question)]}, config, context=context)
    except (ModelSpecError, VectorStoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    answer = state["messages"][-1]
    if args.json:
        print(json.dumps({"question": args.question, "answer": answer.additional_kwargs.get("answer_text", answer.content),
                          "citations": [{k: v for k, v in c.items() if k != "text"} for c in state.get("citations", [])],
                          "thread": config["configurable"]["thread_id"]}, indent=2))
    else:
        print(answer.content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
