"""ragas evaluation of our RAG graphs on the XQuAD English dev articles (SQuAD format).

    python -m evals.ragas_rag --data ../shared/data/xquad                        # rag graph, 40 questions
    python -m evals.ragas_rag --data ../shared/data/xquad --graph rag rag_hybrid --limit 100
    python -m evals.ragas_rag --judge "ollama:qwen2.5:7b" --judge-limit 40       # a stronger judge
    python -m evals.ragas_rag --judge none --limit 3                            # no judged metrics

The paragraphs of every article are indexed as documents into one collection (a fresh index
folder under --out); each graph answers the questions (spread over all paragraphs); the answers,
the retrieved chunks, the gold answer and the gold paragraph become a ragas `EvaluationDataset`.

Metrics without a judge, always: context precision and recall against the gold paragraph
(`NonLLMContextPrecisionWithReference`, `NonLLMContextRecall`: string similarity of each retrieved
chunk to it, threshold 0.5), and against the gold answer `NonLLMStringSimilarity`, `RougeScore`
(ROUGE-L F1), `ExactMatch` and `StringPresence` (the gold answer appears in the response).
Judged metrics, on the first --judge-limit questions: `Faithfulness` and `AnswerRelevancy`
(strictness 1) with the --judge model through ragas's LangChain wrappers (embeddings: MiniLM).
Citation markers ([1]) are removed from responses before scoring. Every score that is not a
number is counted by cause, never averaged away: NaN (the metric gave up, e.g. unparsable judge
output), timeout (--timeout per sample and metric), error (an exception; its type is recorded).

Writes ragas_rag.csv (one row per question and graph), ragas_rag.json, ragas_rag.md and
ragas_rag.png (metric means per graph, failures annotated) to --out (default out/ragas).
"""

from __future__ import annotations

import os

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # before ragas is imported anywhere

import argparse  # noqa: E402
import asyncio  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections import Counter  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

from tqdm import tqdm  # noqa: E402

import models  # noqa: E402,F401  (offline switches)
from models.settings import PROJECT_ROOT, shared_data  # noqa: E402

DEFAULT_DATA = shared_data() / "xquad"
DATA_FILE = "xquad.en.dev.json"
COLLECTION = "xquad"
DEFAULT_JUDGE = "local?temperature=0&max_tokens=256"
CITATION_MARK = re.compile(r"\s*\[\d+\]")
OUTCOMES = ("ok", "nan", "timeout", "error")


# --------------------------------------------------------------------------- data


@dataclass
class Paragraph:
    article: str
    number: int  # position within its article
    context: str


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]
    paragraph: Paragraph


def load_xquad(path: str | Path = DEFAULT_DATA) -> tuple[list[Paragraph], list[Question]]:
    """Paragraphs and questions of a SQuAD-format file (or a folder holding xquad.en.dev.json)."""
    p = Path(path)
    file = p / DATA_FILE if p.is_dir() else p
    if not file.exists():
        raise FileNotFoundError(f"{file}: not found. Pass --data with the XQuAD folder (holding {DATA_FILE}) "
                                "or any SQuAD v1.1 JSON file.")
    data = json.loads(file.read_text("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{file}: not SQuAD format (expected {{'data': [{{'title', 'paragraphs': [...]}}]}}).")
    paragraphs, questions = [], []
    for article in data["data"]:
        for number, item in enumerate(article["paragraphs"]):
            paragraph = Paragraph(article["title"], number, item["context"])
            paragraphs.append(paragraph)
            for qa in item["qas"]:
                answers = [a["text"] for a in qa.get("answers", [])]
                if answers:
                    questions.append(Question(qa["id"], qa["question"], answers, paragraph))
    return paragraphs, questions


def spread_questions(questions: list[Question], limit: int | None) -> list[Question]:
    """The first question of every paragraph, then every second one, ...: `limit` questions that
    cover as many paragraphs (and articles) as possible, in a fixed order."""
    by_paragraph: dict[int, list[Question]] = {}
    for q in questions:
        by_paragraph.setdefault(id(q.paragraph), []).append(q)
    ordered, rank = [], 0
    while len(ordered) < len(questions):
        ordered += [qs[rank] for qs in by_paragraph.values() if rank < len(qs)]
        rank += 1
    return ordered[:limit] if limit else ordered


def write_paragraphs(paragraphs: list[Paragraph], folder: Path) -> Path:
    """One text file per paragraph (the knowledge base ingests files), titled by its article."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in paragraphs:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", p.article).strip("-")
        (folder / f"{slug}-{p.number:02d}.txt").write_text(p.context, "utf-8")
    return folder


# --------------------------------------------------------------------------- running graphs


def answer_questions(graph_name: str, questions: list[Question], settings: dict, progress: bool = True) -> list[dict]:
    """Run one registered graph (`graphs.chat_modes.MODES`, or any `graphs/<name>/` package) over
    the questions; a question whose run fails keeps its row with the error."""
    from graphs.chat_modes import MODES, ChatMode

    mode = MODES.get(graph_name) or ChatMode(graph_name, graph_name, "")
    graph = mode.compile()
    context = mode.make_context(**settings)
    rows = []
    for q in tqdm(questions, desc=f"{graph_name} answering", unit="question", file=sys.stderr, disable=not progress):
        started = time.perf_counter()
        row = {"graph": graph_name, "id": q.id, "question": q.question, "reference": q.answers[0],
               "reference_context": q.paragraph.context, "response": "", "retrieved_contexts": [], "error": ""}
        try:
            state = graph.invoke({"messages": [("human", q.question)]}, context=context)
            row["response"], row["retrieved_contexts"] = response_and_contexts(state)
        except Exception as exc:  # noqa: BLE001 - one failed question must not end the run; it is reported
            row["error"] = f"{type(exc).__name__}: {exc}"
        row["seconds"] = round(time.perf_counter() - started, 2)
        rows.append(row)
    return rows


def response_and_contexts(state: dict) -> tuple[str, list[str]]:
    """The answer without its source list or [n] markers, and the texts the graph retrieved."""
    final = state["messages"][-1]
    answer = final.additional_kwargs.get("answer_text", final.content)
    answer = CITATION_MARK.sub("", answer if isinstance(answer, str) else str(answer)).strip()
    if state.get("citations"):
        contexts = [c["text"] for c in state["citations"]]
    else:
        contexts = [c.text for c in state.get("retrieved", [])]
    return answer, contexts


# --------------------------------------------------------------------------- ragas


def build_dataset(rows: list[dict]):
    """A ragas EvaluationDataset, one SingleTurnSample per answered question (rows in order)."""
    from ragas import EvaluationDataset, SingleTurnSample

    return EvaluationDataset(samples=[
        SingleTurnSample(user_input=r["question"], retrieved_contexts=list(r["retrieved_contexts"]),
                         response=r["response"], reference=r["reference"],
                         reference_contexts=[r["reference_context"]])
        for r in rows
    ])


def reference_metrics() -> list:
    """The metrics that need no judge model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas.metrics import (
            ExactMatch,
            NonLLMContextPrecisionWithReference,
            NonLLMContextRecall,
            NonLLMStringSimilarity,
            RougeScore,
            StringPresence,
        )
    return [NonLLMContextPrecisionWithReference(), NonLLMContextRecall(), NonLLMStringSimilarity(),
            RougeScore(), ExactMatch(), StringPresence()]


def judged_metrics(judge_llm, embeddings) -> list:
    """Faithfulness and answer relevancy, judged by `judge_llm` (a LangChain chat model)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas.embeddings import LangchainEmbeddingsWrapper
        from ragas.llms import LangchainLLMWrapper
        from ragas.metrics import AnswerRelevancy, Faithfulness

        llm = LangchainLLMWrapper(judge_llm)
        # strictness 1: one generated question per answer (3 would triple the judge's work)
        return [Faithfulness(llm=llm), AnswerRelevancy(llm=llm, embeddings=LangchainEmbeddingsWrapper(embeddings),
                                                       strictness=1)]


@dataclass
class MetricTally:
    """How each sample's score for one metric turned out."""

    outcomes: Counter = field(default_factory=Counter)  # ok / nan / timeout / error
    error_types: Counter = field(default_factory=Counter)

    def add(self, outcome: str, error: str = "") -> None:
        self.outcomes[outcome] += 1
        if error:
            self.error_types[error] += 1


def score_samples(samples: list, metrics: list, timeout: float, progress: bool = True,
                  desc: str = "scoring") -> tuple[list[dict], dict[str, MetricTally]]:
    """Each metric on each sample, one at a time; returns per-sample scores (NaN where none) and a
    tally per metric of what happened."""
    from ragas.run_config import RunConfig

    run_config = RunConfig(timeout=int(timeout), max_retries=1)
    for metric in metrics:
        metric.init(run_config)
    tallies = {m.name: MetricTally() for m in metrics}
    scores: list[dict] = [{} for _ in samples]

    async def run_all() -> None:
        # LangChain runs a synchronous model call in the loop's default executor, and a timeout cannot
        # stop a thread. One worker means at most one abandoned call runs on; the rest of a timed-out
        # metric's calls are cancelled before they start, and the next score waits for that one call.
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        bar = tqdm(total=len(samples) * len(metrics), desc=desc, file=sys.stderr, disable=not progress)
        for i, sample in enumerate(samples):
            for metric in metrics:
                value, outcome, error = float("nan"), "ok", ""
                try:
                    value = float(await metric.single_turn_ascore(sample, timeout=timeout))
                    outcome = "ok" if math.isfinite(value) else "nan"
                except (asyncio.TimeoutError, TimeoutError):
                    outcome = "timeout"
                    await loop.run_in_executor(None, lambda: None)  # returns once the abandoned call ends
                except Exception as exc:  # noqa: BLE001 - counted by type, the run goes on
                    outcome, error = "error", type(exc).__name__
                scores[i][metric.name] = value
                tallies[metric.name].add(outcome, error)
                bar.update()
        bar.close()

    asyncio.run(run_all())
    return scores, tallies


# --------------------------------------------------------------------------- reports


def summarize(rows: list[dict], tallies: dict[str, dict[str, MetricTally]], metric_names: list[str]) -> list[dict]:
    """Per graph and metric: mean over the numeric scores, and how many samples were ok / NaN /
    timed out / failed, and how many were not scored (judged metrics past --judge-limit)."""
    summary = []
    for graph in dict.fromkeys(r["graph"] for r in rows):
        part = [r for r in rows if r["graph"] == graph]
        for name in metric_names:
            tally = tallies.get(graph, {}).get(name, MetricTally())
            values = [r[name] for r in part if isinstance(r.get(name), float) and math.isfinite(r[name])]
            scored = sum(tally.outcomes.values())
            summary.append({"graph": graph, "metric": name, "mean": sum(values) / len(values) if values else None,
                            "ok": tally.outcomes["ok"], "nan": tally.outcomes["nan"],
                            "timeout": tally.outcomes["timeout"], "error": tally.outcomes["error"],
                            "errors": dict(tally.error_types), "not_scored": len(part) - scored})
    return summary


def markdown_table(summary: list[dict], header: str) -> str:
    lines = [header, "", "| graph | metric | mean | ok | NaN | timeout | error | not scored |",
             "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        mean = "—" if s["mean"] is None else f"{s['mean']:.3f}"
        kinds = ", ".join(f"{k}×{v}" for k, v in s["errors"].items())
        errors = f"{s['error']}" + (f" ({kinds})" if kinds else "")
        lines.append(f"| {s['graph']} | {s['metric']} | {mean} | {s['ok']} | {s['nan']} | {s['timeout']} | "
                     f"{errors} | {s['not_scored']} |")
    return "\n".join(lines)


def plot_summary(summary: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(dict.fromkeys(s["metric"] for s in summary))
    graphs = list(dict.fromkeys(s["graph"] for s in summary))
    width = 0.8 / len(graphs)
    fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(metrics)), 4.5))
    for g, graph in enumerate(graphs):
        part = {s["metric"]: s for s in summary if s["graph"] == graph}
        xs = [m + g * width for m in range(len(metrics))]
        means = [part[m]["mean"] or 0.0 for m in metrics]
        bars = ax.bar(xs, means, width, label=graph)
        for bar, m in zip(bars, metrics):
            s = part[m]
            failed = s["nan"] + s["timeout"] + s["error"]
            note = f"{s['mean']:.2f}" if s["mean"] is not None else "n/a"
            if failed:
                note += f"\n{failed} failed"
            ax.annotate(note, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                        fontsize=7)
    ax.set_xticks([m + width * (len(graphs) - 1) / 2 for m in range(len(metrics))])
    ax.set_xticklabels([m.replace("_", " ") for m in metrics], rotation=25, ha="right", fontsize=8)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("mean over scored samples")
    ax.set_title("ragas on XQuAD (en dev); failed = NaN + timeout + error")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_reports(rows: list[dict], summary: list[dict], metric_names: list[str], out: Path, header: str,
                  settings: dict) -> str:
    out.mkdir(parents=True, exist_ok=True)
    columns = ["graph", "id", "question", "reference", "response", "seconds", "error", *metric_names,
               "retrieved_contexts"]
    with (out / "ragas_rag.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "retrieved_contexts": json.dumps(r["retrieved_contexts"])})
    (out / "ragas_rag.json").write_text(json.dumps({"settings": settings, "summary": summary}, indent=2, default=str))
    markdown = markdown_table(summary, header)
    (out / "ragas_rag.md").write_text(markdown + "\n")
    plot_summary(summary, out / "ragas_rag.png")
    return markdown


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.ragas_rag", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help=f"XQuAD folder (holding {DATA_FILE}) or a SQuAD file")
    parser.add_argument("--graph", nargs="+", default=["rag"],
                        help="graph names (graphs/<name>), compared side by side")
    parser.add_argument("--limit", type=int, default=40, help="questions (0 = all)")
    parser.add_argument("--model", default="local?temperature=0&max_tokens=96", help="chat model spec of the graphs")
    parser.add_argument("--judge", default=DEFAULT_JUDGE, help="judge model spec for faithfulness / answer "
                        "relevancy, or 'none' to skip them")
    parser.add_argument("--judge-limit", type=int, default=8,
                        help="judge only the first N questions per graph (0 = all)")
    parser.add_argument("--timeout", type=float, default=45.0, help="seconds per sample and judged metric")
    parser.add_argument("--top-k", type=int, default=4)
    parser.add_argument("--index-dir", default="", help="Qdrant folder for the XQuAD collection (default: under --out)")
    parser.add_argument("--out", type=Path, default=Path("out/ragas"))
    args = parser.parse_args(argv)

    paragraphs, questions = load_xquad(args.data)
    chosen = spread_questions(questions, args.limit or None)
    index_dir = args.index_dir or str(args.out / "index")
    settings = {"model": args.model, "collection": COLLECTION, "index_location": index_dir, "top_k": args.top_k,
                "embeddings": "local"}

    from rag.answering import open_knowledge_base

    kb = open_knowledge_base(COLLECTION, index_dir, "local")
    report = kb.ingest([write_paragraphs(paragraphs, args.out / "paragraphs")])
    print(f"XQuAD: {len(paragraphs)} paragraphs ({report.summary()}); {len(chosen)} of {len(questions)} questions",
          file=sys.stderr)

    rows: list[dict] = []
    for graph in args.graph:
        rows += answer_questions(graph, chosen, settings)

    plain = reference_metrics()
    judged = []
    if args.judge.lower() != "none":
        from models import load_chat_model, load_embeddings

        judged = judged_metrics(load_chat_model(args.judge), load_embeddings("local"))
    metric_names = [m.name for m in plain + judged]
    tallies: dict[str, dict[str, MetricTally]] = {}
    for graph in args.graph:
        part = [r for r in rows if r["graph"] == graph]
        samples = build_dataset(part).samples
        scores, tallies[graph] = score_samples(samples, plain, args.timeout, desc=f"{graph}: reference metrics")
        if judged:
            n = len(samples) if args.judge_limit <= 0 else min(args.judge_limit, len(samples))
            judged_scores, judged_tallies = score_samples(samples[:n], judged, args.timeout, desc=f"{graph}: judged")
            tallies[graph].update(judged_tallies)
            for s, extra in zip(scores, judged_scores):
                s.update(extra)
        for r, s in zip(part, scores):
            r.update(s)

    summary = summarize(rows, tallies, metric_names)
    answered = sum(1 for r in rows if not r["error"])
    header = (f"ragas on XQuAD en dev: {len(chosen)} questions × graphs {', '.join(args.graph)}; "
              f"model `{args.model}`, "
              f"judge `{args.judge}` (first {args.judge_limit or 'all'} questions, {args.timeout:.0f} s timeout); "
              f"{answered}/{len(rows)} runs answered, mean {sum(r['seconds'] for r in rows) / max(len(rows), 1):.1f} s")
    run_settings = {**settings, **vars(args), "out": str(args.out)}
    markdown = write_reports(rows, summary, metric_names, args.out, header, run_settings)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
