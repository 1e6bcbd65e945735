"""Grounded-answer fine-tuning data: numbered evidence sentences + a question -> a short answer that
cites the sentence it rests on, or says the evidence does not answer it.

    python -m training.grounded_data --out .hearth/finetune/data/grounded.jsonl
    python -m training.grounded_data --no-pubmedqa --out .hearth/finetune/data/grounded_xquad.jsonl
    python -m training.grounded_data --documents my_docs/ --out .hearth/finetune/data/grounded_docs.jsonl

Rows are rendered exactly as the RAG graphs ask the model (`rag.answering`'s system prompt and
`Facts: [n] ... Question: ... Answer:` user turn), so a model tuned on them is a drop-in
`HEARTH_RAG_MODEL`. Sources:

- XQuAD English (SQuAD v1.1 questions over Wikipedia paragraphs), all articles but the last four,
  which are `evals.finetune --suites grounded`'s test (`xquad_items` builds both the same way):
  the sentence holding the answer span and up to three other sentences of its paragraph, shuffled
  and numbered; the answer is the span with the number of its sentence ("308 [2]"). One question
  in four is also shown its paragraph without the answer's sentence (same subject, no answer) and
  answered with the uncovered sentence: the near miss users' questions make.
- PubMedQA PQA-L, the 500 items outside its test part (`test_ground_truth.json` lists the test
  part; `training.task_data` refuses any of those questions). The evidence is the abstract's
  sentences that share the most words with the authors' own conclusion (the long answer) plus
  distractor sentences from the same abstract, shuffled and numbered; the answer is the
  conclusion's first sentence with the number of the sentence it overlaps most.
- With `--documents FOLDER` (any .md/.txt files that are not the handbook, which is a test set):
  a sentence with a number or a capitalised term becomes the answer to a cloze-style question
  made from it ("What ... ?" is not generated: the question is the sentence with its key term
  replaced by "what"), with its neighbours as distractors.
- Uncovered rows (one in `--uncovered-every`): a question shown with another item's evidence,
  answered with the sentence the graph uses when its sources do not cover a question, so the
  model learns to say so instead of inventing.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

from models.settings import shared_data
from rag.answering import UNCOVERED_ANSWER
from training.cli import run_command
from training.task_data import XQUAD_TEST_ARTICLES, data_folder, held_out_questions, normalize_question, write_dataset

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")
_ABBREVIATION = re.compile(r"\b(?:Fig|Figs|al|e\.g|i\.e|vs|approx|No|Dr|Mr|Ms|Ref|Eq)\.$")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an the of in on and or to for with by is are was were be been that this these those as at from "
                  "it its we our than not no".split())


def sentences(text: str) -> list[str]:
    """Sentences of a paragraph (a full stop, ! or ? followed by a capital or digit).

    >>> sentences("PCD is regulated. It occurs in 5 cells. (See Fig. 2.)")
    ['PCD is regulated.', 'It occurs in 5 cells.', '(See Fig. 2.)']
    """
    pieces: list[str] = []
    for piece in (p.strip() for p in _SENTENCE.split(text.strip())):
        if piece and pieces and _ABBREVIATION.search(pieces[-1]):
            pieces[-1] += " " + piece  # "Fig. 2", "et al. (2019)": not a sentence end
        elif piece:
            pieces.append(piece)
    return pieces


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def overlap(a: str, b: str) -> float:
    """Share of `a`'s content words that `b` also has.

    >>> overlap("mitochondria play a role in cell death", "the role of mitochondria")
    0.4
    """
    words = _words(a)
    return len(words & _words(b)) / len(words) if words else 0.0


def grounded_row(question: str, facts: list[str], answer: str, source: str, item_id: str) -> dict:
    """One chat row in the RAG answer step's own prompt."""
    from rag.answering import EVIDENCE_SOURCE, SYSTEM_PROMPT, USER_PROMPT

    shown = "\n".join(EVIDENCE_SOURCE.format(number=n, sentence=f) for n, f in enumerate(facts, 1))
    return {"prompt": [{"role": "system", "content": SYSTEM_PROMPT},
                       {"role": "user", "content": USER_PROMPT.format(sources=shown, question=question)}],
            "completion": [{"role": "assistant", "content": answer}], "task": "grounded", "source": source,
            "question": question, "id": item_id}


def xquad_articles(split: str, folder: Path | None = None) -> list[dict]:
    """XQuAD English articles: "train" (all but the last XQUAD_TEST_ARTICLES) or "test" (those)."""
    from training.answerability import SQUAD_FILE, read_squad

    articles = read_squad((folder or shared_data() / "xquad") / SQUAD_FILE)
    cut = len(articles) - XQUAD_TEST_ARTICLES
    if split not in ("train", "test"):
        raise ValueError(f"split {split!r}: use 'train' or 'test'")
    return articles[:cut] if split == "train" else articles[cut:]


def xquad_items(articles: list[dict], seed: int = 0, facts: int = 4, uncovered_every: int = 4) -> list[dict]:
    """Grounded items from SQuAD-format articles: {"id", "question", "facts", "answer", "cite"} with
    `cite` the 1-based number of the fact holding the answer span, or `cite` None and `answer` None
    for an uncovered item (the paragraph's other sentences, none holding the answer text).

    >>> article = {"title": "T", "paragraphs": [{"context": "Ann won in 1990. She lives in Oslo. It is cold. Snow falls.",
    ...     "qas": [{"id": "q1", "question": "When did Ann win?", "answers": [{"text": "1990", "answer_start": 11}]}]}]}
    >>> [(i["answer"], i["facts"][i["cite"] - 1] if i["cite"] else None) for i in xquad_items([article], uncovered_every=1)]
    [('1990', 'Ann won in 1990.'), (None, None)]
    """
    from training.answerability import sentences as spans_of

    rng = random.Random(seed)
    items, count = [], 0
    for article in articles:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            found = [(a, b, " ".join(context[a:b].split())) for a, b in spans_of(context)]  # one line per fact
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]
                start, end = answer["answer_start"], answer["answer_start"] + len(answer["text"])
                holding = [i for i, (a, b, _) in enumerate(found) if a < end and b > start]
                if len(holding) != 1 or not answer["text"].strip():
                    continue  # an answer across two sentences has no one fact to cite
                support = found[holding[0]][2]
                others = [text for i, (_, _, text) in enumerate(found) if i != holding[0]]
                shown = [support] + rng.sample(others, min(facts - 1, len(others)))
                rng.shuffle(shown)
                items.append({"id": qa["id"], "question": qa["question"].strip(), "facts": shown,
                              "answer": answer["text"].strip(), "cite": shown.index(support) + 1})
                count += 1
                text = answer["text"].strip().lower()
                if uncovered_every and count % uncovered_every == 0 and len(others) >= 2 \
                        and all(text not in o.lower() for o in others):
                    rest = rng.sample(others, min(facts, len(others)))
                    items.append({"id": f"{qa['id']}-uncovered", "question": qa["question"].strip(), "facts": rest,
                                  "answer": None, "cite": None})
    return items


def xquad_rows(folder: Path | None = None, seed: int = 0, uncovered_every: int = 4) -> list[dict]:
    """Chat rows from the XQuAD train articles (the last four are the grounded suite's test)."""
    rows = []
    for item in xquad_items(xquad_articles("train", folder), seed=seed, uncovered_every=uncovered_every):
        answer = f"{item['answer']} [{item['cite']}]" if item["cite"] else UNCOVERED_ANSWER
        rows.append(grounded_row(item["question"], item["facts"], answer,
                                 "xquad" if item["cite"] else "xquad:uncovered", f"xquad-{item['id']}"))
    return rows


def pubmedqa_rows(folder: Path | None = None, facts: int = 4, seed: int = 0) -> list[dict]:
    """Rows from PubMedQA PQA-L items outside its test part."""
    folder = folder or shared_data() / "pubmedqa_pqal"
    items = json.loads((folder / "ori_pqal.json").read_text(encoding="utf-8"))
    test_ids = set(json.loads((folder / "test_ground_truth.json").read_text(encoding="utf-8")))
    rng = random.Random(seed)
    rows = []
    for pmid, item in sorted(items.items()):
        if pmid in test_ids:
            continue
        conclusion = sentences(item["LONG_ANSWER"])
        pool = [s for context in item["CONTEXTS"] for s in sentences(context) if 30 <= len(s) <= 300]
        if not conclusion or len(pool) < 2:
            continue
        answer = conclusion[0]
        ranked = sorted(pool, key=lambda s: overlap(answer, s), reverse=True)
        support = ranked[0]
        shown = [support] + rng.sample(ranked[1:], min(facts - 1, len(ranked) - 1))
        rng.shuffle(shown)
        rows.append(grounded_row(item["QUESTION"], shown, f"{answer} [{shown.index(support) + 1}]", "pubmedqa", f"pubmedqa-{pmid}"))
    return rows


def document_rows(folder: Path, facts: int = 4, seed: int = 0) -> list[dict]:
    """Cloze questions over a folder of documents: a key term (a number, else a capitalised word)
    of a sentence is asked for; the neighbouring sentences are the distractors."""
    rng = random.Random(seed)
    rows = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".md", ".txt")):
        text = re.sub(r"^#+\s.*$", "", path.read_text(encoding="utf-8", errors="replace"), flags=re.M)
        found = [s for s in sentences(" ".join(text.split())) if 30 <= len(s) <= 250]
        for index, sentence in enumerate(found):
            key = re.search(r"\b\d[\d,.]*(?:\s?%|\s(?:days?|hours?|weeks?|months?|years?|percent))?", sentence) \
                or re.search(r"(?<=\s)[A-Z][a-zA-Z]{3,}", sentence)
            if key is None:
                continue
            question = (sentence[:key.start()] + "what" + sentence[key.end():]).rstrip(".") + "?"
            others = found[max(0, index - 3):index] + found[index + 1:index + 4]
            shown = [sentence] + rng.sample(others, min(facts - 1, len(others)))
            rng.shuffle(shown)
            rows.append(grounded_row(question, shown, f"{key.group(0).strip()} [{shown.index(sentence) + 1}]",
                                     f"documents:{path.name}", f"{path.stem}-{index}"))
    return rows


def with_uncovered(rows: list[dict], every: int, seed: int = 0) -> list[dict]:
    """Add, for one row in `every`, the same question shown another row's evidence, answered with
    UNCOVERED_ANSWER."""
    if every <= 0 or len(rows) < 2:
        return rows
    rng = random.Random(seed)
    extra = []
    for index in range(0, len(rows), every):
        row, other = rows[index], rows[(index + 1 + rng.randrange(len(rows) - 1)) % len(rows)]
        facts_text = other["prompt"][1]["content"]
        user = row["prompt"][1]["content"]
        question = user[user.rindex("Question:"):]
        extra.append({**row, "prompt": [row["prompt"][0], {"role": "user", "content": facts_text[:facts_text.rindex("Question:")] + question}],
                      "completion": [{"role": "assistant", "content": UNCOVERED_ANSWER}], "id": f"{row['id']}-uncovered",
                      "source": f"{row['source']}:uncovered"})
    return rows + extra


def build_grounded_dataset(out: str | Path, *, pubmedqa: bool = True, xquad: bool = True,
                           documents: str | Path | None = None, uncovered_every: int = 5, seed: int = 0) -> dict:
    """Write the grounded-answer set (test questions dropped) and its manifest."""
    rows = pubmedqa_rows(seed=seed) if pubmedqa else []
    if documents:
        handbook = (Path(__file__).resolve().parents[1] / "data" / "handbook").resolve()
        if Path(documents).resolve() == handbook or handbook in Path(documents).resolve().parents:
            raise ValueError("data/handbook is the handbook QA test set's source: build grounded data from other documents.")
        rows += document_rows(Path(documents), seed=seed)
    held = held_out_questions()
    dropped = [r for r in rows if normalize_question(r["question"]) in held]
    rows = with_uncovered([r for r in rows if normalize_question(r["question"]) not in held], uncovered_every, seed)
    if xquad:  # near-miss uncovered rows of its own (the answer's sentence taken out)
        extra = xquad_rows(seed=seed)
        dropped += [r for r in extra if normalize_question(r["question"]) in held]
        rows += [r for r in extra if normalize_question(r["question"]) not in held]
    if not rows:
        raise ValueError("No rows: keep PubMedQA or XQuAD, or pass --documents.")
    random.Random(seed).shuffle(rows)
    return write_dataset(rows, out, build="training.grounded_data", seed=seed, pubmedqa=pubmedqa, xquad=xquad,
                         documents=str(documents or ""), uncovered_every=uncovered_every, dropped_test_items=len(dropped))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="JSONL to write (default $HEARTH_HOME/finetune/data/grounded.jsonl)")
    parser.add_argument("--documents", default=None, help="a folder of .md/.txt documents (not the handbook) to add cloze rows from")
    parser.add_argument("--no-pubmedqa", action="store_true", help="leave PubMedQA out")
    parser.add_argument("--no-xquad", action="store_true", help="leave the XQuAD train articles out")
    parser.add_argument("--uncovered-every", type=int, default=5, help="one uncovered row per N rows (0 = none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    info = build_grounded_dataset(args.out or data_folder() / "grounded.jsonl", pubmedqa=not args.no_pubmedqa, xquad=not args.no_xquad,
                                  documents=args.documents, uncovered_every=args.uncovered_every, seed=args.seed)
    print(json.dumps(info, indent=2))
    return info


if __name__ == "__main__":
    sys.exit(run_command(main))
