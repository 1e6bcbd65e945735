"""Train the answerability checker: a cross-encoder that reads a question and a passage together and
scores whether the passage states the answer, not only whether it is about the same thing.

    python -m training.answerability                                  # XQuAD English, about 20 min on 2 cores
    python -m training.answerability --data ../shared/data/xquad --max-minutes 5 --out .hearth/answerability/quick
    HEARTH_ANSWERABILITY=trained python -m apps.ask "What time does the tile museum close?"
    python -m evals.abstention --settings rules trained               # both checks side by side

Why trained: the term-coverage rules in `rag.answerability` were tuned on questions written for this
project and did not carry over to questions in users' own words (README, abstention table). What a
user's near miss looks like ("what time does it open?" over a guide that gives only the price; a
question about Madrid over a Lisbon guide) is what reading comprehension data teaches in general.

The pairs come from a SQuAD-format file (XQuAD English: 24 Wikipedia articles, 632 questions with
their answer spans), three per question:
- positive: the question's own paragraph, which holds the answer span, and the two-sentence window
  around the answer (retrieved chunks are often that short);
- same-topic negative: the same paragraph with every sentence that holds the answer removed (same
  subject, same names, no answer: the hardest near miss and the commonest one in users' questions);
- other-section negative: another paragraph of the same article that does not hold the answer text.
`training.reranker` then trains the cross-encoder from the bundled MiniLM weights on them (its
pointwise loss keeps the score a probability; its mined hard negatives add more same-article
paragraphs). The last `--eval-articles` articles are held out: the run reports ROC AUC and accuracy
at 0.5 on their pairs, per negative kind, in `answerability.json` beside the weights.

The thresholds on the checker's score are chosen on the abstention benchmark's tuning part
(`python -m evals.abstention --part tuning --sweep`), never on its test or fresh parts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import models  # noqa: F401  (offline switches before any hub library loads)
from models.settings import shared_data
from rag.answerability import checker_folder
from training.optim_step import add_number_options

SQUAD_FILE = "xquad.en.dev.json"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“(\[]?[A-Z0-9])")


@dataclass
class AnswerabilityConfig:
    data: str = ""                  # a SQuAD-format JSON file or a folder holding xquad.en.dev.json
    out: str = ""                   # default: rag.answerability.checker_folder()
    eval_articles: int = 4          # the last N articles are held out for the report
    limit_questions: int = 0        # train on the first N questions only (0 = all; quick runs and tests)
    max_minutes: float = 20.0
    max_steps: int = 0              # 0 = no limit
    epochs: int = 2
    lr: float = 4e-5
    max_length: int = 192
    negatives_mined: int = 2
    seed: int = 13
    threads: int = 0
    mlruns: str = ""                # MLflow store folder; default $HEARTH_HOME/mlflow; "off" = no logging

    def squad_file(self) -> Path:
        path = Path(self.data) if self.data else shared_data() / "xquad"
        return path / SQUAD_FILE if path.is_dir() else path

    def resolved_out(self) -> Path:
        return Path(self.out) if self.out else checker_folder()


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of `text`.

    >>> [ "Ab c. Dd e! F"[a:b] for a, b in sentences("Ab c. Dd e! F")]
    ['Ab c.', 'Dd e!', 'F']
    """
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def read_squad(path: Path) -> list[dict]:
    """Articles as [{"title", "paragraphs": [{"context", "qas": [{"question", "answers"}]}]}], checked."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pass --data with a SQuAD-format JSON file or a folder "
                                f"holding {SQUAD_FILE} (the shared data has ../shared/data/xquad).")
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
        for article in articles:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    qa["question"], qa["answers"][0]["answer_start"]  # noqa: B018 - the fields each pair needs
    except (KeyError, IndexError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not SQuAD-format JSON ({type(exc).__name__}: {exc}); expected "
                         '{"data": [{"title", "paragraphs": [{"context", "qas": [{"question", "answers": '
                         '[{"text", "answer_start"}]}]}]}]}.') from None
    return articles


def question_pairs(article: dict, rng: random.Random) -> list[dict]:
    """The labelled passages of each question of one article: {"query", "passage", "label", "kind"}."""
    rows = []
    contexts = [p["context"] for p in article["paragraphs"]]
    for index, paragraph in enumerate(article["paragraphs"]):
        context = paragraph["context"]
        spans = sentences(context)
        for qa in paragraph["qas"]:
            answer = qa["answers"][0]
            start, end = answer["answer_start"], answer["answer_start"] + len(answer["text"])
            text = answer["text"].strip().lower()
            if not text:
                continue
            holding = [i for i, (a, b) in enumerate(spans) if a < end and b > start]
            question = qa["question"].strip()
            rows.append({"query": question, "passage": context, "label": 1, "kind": "own paragraph"})
            if holding:
                first = max(0, holding[0] - 1) if holding[0] == len(spans) - 1 else holding[0]
                window = context[spans[first][0]:spans[min(len(spans) - 1, max(holding[-1], first + 1))][1]]
                if window != context:
                    rows.append({"query": question, "passage": window, "label": 1, "kind": "answer window"})
                rest = " ".join(context[a:b] for i, (a, b) in enumerate(spans) if i not in holding)
                if len([i for i in range(len(spans)) if i not in holding]) >= 2 and text not in rest.lower():
                    rows.append({"query": question, "passage": rest, "label": 0, "kind": "same topic, answer removed"})
            others = [c for j, c in enumerate(contexts) if j != index and text not in c.lower()]
            if others:
                rows.append({"query": question, "passage": rng.choice(others), "label": 0, "kind": "other section"})
    return rows


def build_pairs(config: AnswerabilityConfig) -> tuple[list[dict], list[dict], dict]:
    """(train rows, held-out rows, manifest) from the SQuAD file; held-out = the last articles."""
    path = config.squad_file()
    articles = read_squad(path)
    if config.eval_articles >= len(articles):
        raise ValueError(f"--eval-articles {config.eval_articles} leaves nothing to train on ({len(articles)} articles).")
    rng = random.Random(config.seed)
    cut = len(articles) - config.eval_articles
    train = [row for article in articles[:cut] for row in question_pairs(article, rng)]
    held = [row for article in articles[cut:] for row in question_pairs(article, rng)]
    if config.limit_questions:
        kept = set(list(dict.fromkeys(r["query"] for r in train))[:config.limit_questions])
        train = [r for r in train if r["query"] in kept]
        held = held[:4 * config.limit_questions]
    manifest = {"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "train_articles": [a["title"] for a in articles[:cut]],
                "held_out_articles": [a["title"] for a in articles[cut:]],
                "train_rows": len(train), "held_out_rows": len(held)}
    return train, held, manifest


def write_pairs_jsonl(rows: list[dict], path: Path) -> Path:
    """The `training.reranker` JSONL shape: one line per question, its positives and negatives."""
    by_question: dict[str, dict] = {}
    for row in rows:
        entry = by_question.setdefault(row["query"], {"positives": [], "negatives": []})
        entry["positives" if row["label"] else "negatives"].append(row["passage"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for query, entry in by_question.items():
            for positive in entry["positives"]:
                handle.write(json.dumps({"query": query, "positive": positive, "negative": entry["negatives"]}) + "\n")
    return path


def roc_auc(labels: list[int], scores: list[float]) -> float:
    """The probability that a random positive scores above a random negative (ties count half);
    NaN when one class is missing.

    >>> roc_auc([1, 0, 1, 0], [0.9, 0.2, 0.5, 0.5])
    0.875
    """
    from sklearn.metrics import roc_auc_score

    if len(set(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def evaluate_checker(folder: Path, rows: list[dict]) -> dict:
    """ROC AUC and accuracy at 0.5 on held-out rows, overall and per negative kind."""
    from rag.rerank import CrossEncoderReranker

    scores = CrossEncoderReranker(folder).score_pairs([(r["query"], r["passage"]) for r in rows])
    labels = [r["label"] for r in rows]
    report = {"rows": len(rows), "auc": round(roc_auc(labels, scores), 4),
              "accuracy_at_0.5": round(sum((s >= 0.5) == bool(y) for s, y in zip(scores, labels)) / len(rows), 4),
              "by_kind": {}}
    positive = [(s, 1) for s, y in zip(scores, labels) if y]
    for kind in sorted({r["kind"] for r in rows if not r["label"]}):
        negative = [(s, 0) for s, r in zip(scores, rows) if r["kind"] == kind]
        pairs = positive + negative
        report["by_kind"][kind] = {"negatives": len(negative),
                                   "auc_against_positives": round(roc_auc([y for _, y in pairs], [s for s, _ in pairs]), 4),
                                   "mean_score": round(sum(s for s, _ in negative) / len(negative), 4)}
    report["mean_positive_score"] = round(sum(s for s, _ in positive) / len(positive), 4)
    return report


def train_checker(config: AnswerabilityConfig, progress=None, show_bar: bool = True) -> dict:
    """Build the pairs, train the cross-encoder, report it on the held-out articles; returns the record."""
    from training.reranker import RerankerConfig, train_reranker

    train, held, manifest = build_pairs(config)
    out = config.resolved_out()
    pairs_file = write_pairs_jsonl(train, out / "train_pairs.jsonl")
    reranker = RerankerConfig(data=str(pairs_file), out=str(out), epochs=config.epochs, max_minutes=config.max_minutes,
                              max_steps=config.max_steps, mlruns=config.mlruns,
                              lr=config.lr, max_length=config.max_length, negatives_mined=config.negatives_mined,
                              positives_per_group=2, negatives_per_group=4, queries_per_step=4,
                              seed=config.seed, threads=config.threads)
    folder = train_reranker(reranker, progress=progress, show_bar=show_bar)
    record = {"config": asdict(config), "data": manifest, "held_out": evaluate_checker(folder, held)}
    (folder / "answerability.json").write_text(json.dumps(record, indent=2))
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.answerability", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="", help="SQuAD-format JSON file or a folder with xquad.en.dev.json "
                                                   "(default ../shared/data/xquad)")
    parser.add_argument("--out", default="", help="output folder (default $HEARTH_HOME/answerability/xquad)")
    parser.add_argument("--mlruns", default="", help="MLflow store folder (default $HEARTH_HOME/mlflow; off = none)")
    add_number_options(parser, AnswerabilityConfig, floats=("max_minutes", "lr"),
                       ints=("eval_articles", "limit_questions", "max_steps", "epochs", "max_length", "negatives_mined",
                             "seed", "threads"))
    config = AnswerabilityConfig(**vars(parser.parse_args(argv)))
    try:
        record = train_checker(config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    held = record["held_out"]
    print(f"Answerability checker saved to {config.resolved_out()}: held-out articles "
          f"({', '.join(record['data']['held_out_articles'])}) ROC AUC {held['auc']:.3f}, accuracy at 0.5 "
          f"{held['accuracy_at_0.5']:.1%} on {held['rows']} pairs.")
    for kind, row in held["by_kind"].items():
        print(f"  {kind}: AUC against the positives {row['auc_against_positives']:.3f}, mean score {row['mean_score']:.2f}")
    print("Use it with HEARTH_ANSWERABILITY=trained" + (f" HEARTH_ANSWER_CHECKER={config.out}" if config.out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
