"""Guardrails benchmark: injection detection vs. false positives, and PII redaction quality.

    python -m evals.guardrails --data ../shared/data/xstest
    python -m evals.guardrails --data ../shared/data/xstest --no-embeddings --limit 50     # quick

Injection guard, two systems side by side on the same texts:

- heuristic            the rules over normalised text (`agents.guardrails.injection.detect_injection`)
- heuristic+embedding  the rules, then MiniLM similarity to the attack exemplars (`--embeddings`,
                       `--threshold`) for what the rules let through

Texts: the attack list (`--attacks`, default evals/data/injection_attacks.jsonl; documents are
checked with the document rules) gives the detection rate per category, for the `dev` attacks
(the rules were written while looking at them) and the `heldout` ones (written after the rules
were frozen, and not used to change them: the honest figure for unseen attacks). XSTest's 250 *safe*
prompts (homonyms like "kill a Python process", figurative language, ...) must not be flagged:
their flag rate is the false-positive rate. XSTest's 200 *unsafe* prompts are harmful requests,
not injections: their flag rate is reported for information only. The paragraphs of the sample
handbook (`data/handbook`), checked as retrieved documents, give the false-positive rate of the
document rules on real documents. A threshold sweep shows what the embedding check trades.
The embedding exemplars are not the attack list; the rules were also checked against XSTest while
being written, so its false-positive rate is optimistic for other benign text.

PII: precision and recall per kind on evals/data/pii_samples.jsonl (a predicted span counts when
it overlaps a labelled span of the same kind). Writes out/guardrails/guardrails.json and .md.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

from tqdm import tqdm

from agents.guardrails.injection import EmbeddingInjectionDetector, detect_injection
from agents.guardrails.pii import ALL_KINDS, find_pii
from models.settings import PROJECT_ROOT, shared_data

DEFAULT_DATA = shared_data() / "xstest"
DEFAULT_ATTACKS = PROJECT_ROOT / "evals" / "data" / "injection_attacks.jsonl"
DEFAULT_PII = PROJECT_ROOT / "evals" / "data" / "pii_samples.jsonl"
DEFAULT_DOCUMENTS = PROJECT_ROOT / "data" / "handbook"
SYSTEMS = ("heuristic", "heuristic+embedding")
SWEEP = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def load_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise SystemExit(f"{path} does not exist; pass the right path (see `python -m evals.guardrails --help`).")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_xstest(folder: Path) -> list[dict]:
    path = folder / "xstest_prompts.csv"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist. Pass --data pointing at the xstest folder (with xstest_prompts.csv).")
    with path.open(encoding="utf-8") as fh:
        return [{"id": f"xstest-{r['id']}", "text": r["prompt"], "label": r["label"], "category": r["type"],
                 "where": "message"} for r in csv.DictReader(fh)]


def load_document_paragraphs(folder: Path) -> list[dict]:
    """Paragraphs (40+ characters) of the files in `folder`, tags stripped, as retrieved documents."""
    items = []
    for path in sorted(folder.glob("*")):
        if path.suffix.lower() not in (".md", ".txt", ".html"):
            continue
        text = re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8", errors="replace"))
        for i, para in enumerate(p.strip() for p in re.split(r"\n\s*\n", text)):
            if len(para) >= 40:
                items.append({"id": f"{path.name}#{i}", "text": para, "label": "document", "category": "handbook",
                              "where": "document"})
    return items


def run_injection(items: list[dict], detector: EmbeddingInjectionDetector | None) -> dict[str, list[dict]]:
    """Per system, one verdict record per item (rules and embeddings timed separately)."""
    started = time.perf_counter()
    rules = [detect_injection(it["text"], document=it["where"] == "document")
             for it in tqdm(items, desc="rules", leave=False)]
    rules_s = time.perf_counter() - started
    records = {"heuristic": [{"flagged": v.flagged, "rule_category": v.category} for v in rules]}
    timing = {"heuristic": rules_s}
    if detector is not None:
        started = time.perf_counter()
        semantic = []
        for start in tqdm(range(0, len(items), 64), desc="embeddings", leave=False):
            semantic += detector.similarities([it["text"] for it in items[start:start + 64]])
        timing["heuristic+embedding"] = rules_s + time.perf_counter() - started
        records["heuristic+embedding"] = [
            {"flagged": v.flagged or score >= detector.threshold, "similarity": round(score, 4),
             "by": "rules" if v.flagged else ("embedding" if score >= detector.threshold else "")}
            for v, (score, _) in zip(rules, semantic)]
        records["_similarity"] = [score for score, _ in semantic]
    records["_timing_s"] = timing
    return records


def rate(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def summarise_injection(items: list[dict], records: dict, threshold: float | None) -> dict:
    systems = [s for s in SYSTEMS if s in records]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        if it["label"] == "attack":
            split = "held-out" if it.get("split") == "heldout" else "dev"
            groups[f"attack ({split}): {it['category']}"].append(i)
            groups[f"attack ({split}): all"].append(i)
        elif it["label"] == "safe":
            groups["xstest safe (false positives)"].append(i)
            groups[f"xstest safe: {it['category']}"].append(i)
        elif it["label"] == "unsafe":
            groups["xstest unsafe (harmful, not injection; info)"].append(i)
        else:
            groups["handbook paragraphs as documents (false positives)"].append(i)
    rows = []
    for name, indices in groups.items():
        row = {"group": name, "n": len(indices)}
        for system in systems:
            row[system] = rate([records[system][i]["flagged"] for i in indices])
        rows.append(row)
    order = lambda r: (0 if r["group"].startswith("attack (dev)") else 1 if r["group"].startswith("attack") else
                       2 if "(false" in r["group"] else 3 if "unsafe" in r["group"] else 4,
                       not r["group"].endswith(": all"), r["group"])
    rows.sort(key=order)
    summary = {"rows": rows, "timing_s": {k: round(v, 3) for k, v in records["_timing_s"].items()}, "threshold": threshold}
    if "_similarity" in records:
        similarity = records["_similarity"]
        rule_flags = [r["flagged"] for r in records["heuristic"]]
        sweep = []
        for t in SWEEP:
            flags = [f or s >= t for f, s in zip(rule_flags, similarity)]
            alone = [s >= t for s in similarity]
            pick = lambda label, fl, split=None: rate([fl[i] for i, it in enumerate(items) if it["label"] == label
                                                       and (split is None or it.get("split") == split)])
            sweep.append({"threshold": t, "held-out detection": pick("attack", flags, "heldout"),
                          "xstest safe FP": pick("safe", flags), "handbook FP": pick("document", flags),
                          "embedding alone: dev detection": pick("attack", alone, "dev"),
                          "embedding alone: held-out detection": pick("attack", alone, "heldout"),
                          "embedding alone: xstest safe FP": pick("safe", alone)})
        summary["sweep"] = sweep
    return summary


def score_pii(samples: list[dict]) -> dict:
    """Precision/recall per kind: a predicted span is right when it overlaps a labelled span of its kind."""
    counts = {kind: Counter() for kind in ALL_KINDS}
    misses, false_hits = [], []
    for sample in samples:
        text = sample["text"]
        gold = []
        for label in sample["pii"]:
            start = text.find(label["text"])
            if start < 0:
                raise SystemExit(f"{sample['id']}: labelled span {label['text']!r} is not in its text.")
            gold.append((label["kind"], start, start + len(label["text"])))
        predicted = [(s.kind, s.start, s.end) for s in find_pii(text)]
        overlaps = lambda a, b: a[0] == b[0] and a[1] < b[2] and b[1] < a[2]
        for p in predicted:
            hit = any(overlaps(p, g) for g in gold)
            counts[p[0]]["tp" if hit else "fp"] += 1
            if not hit:
                false_hits.append({"id": sample["id"], "kind": p[0], "text": text[p[1]:p[2]]})
        for g in gold:
            if not any(overlaps(p, g) for p in predicted):
                counts[g[0]]["fn"] += 1
                misses.append({"id": sample["id"], "kind": g[0], "text": text[g[1]:g[2]]})
    rows = []
    total = Counter()
    for kind, c in counts.items():
        total.update(c)
        rows.append(_prf(kind, c))
    rows.append(_prf("all", total))
    return {"rows": rows, "missed": misses, "false_hits": false_hits, "samples": len(samples)}


def _prf(kind: str, c: Counter) -> dict:
    precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else None
    recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else None
    return {"kind": kind, "labelled": c["tp"] + c["fn"], "found": c["tp"] + c["fp"],
            "precision": round(precision, 3) if precision is not None else None,
            "recall": round(recall, 3) if recall is not None else None}


def _cell(value) -> str:
    return "–" if value is None else f"{value:.1%}" if isinstance(value, float) else str(value)


def markdown(report: dict) -> str:
    injection = report["injection"]
    systems = [s for s in SYSTEMS if s in injection["rows"][0]]
    lines = ["## Injection guard: flag rate per group", "",
             "| group | n | " + " | ".join(systems) + " |", "|---|---:|" + "---:|" * len(systems)]
    lines += [f"| {r['group']} | {r['n']} | " + " | ".join(_cell(r[s]) for s in systems) + " |" for r in injection["rows"]]
    timing = injection["timing_s"]
    lines += ["", "Time for all texts: " + ", ".join(f"{k} {v:.2f} s" for k, v in timing.items())
              + (f" (ratio {timing['heuristic+embedding'] / max(timing['heuristic'], 1e-9):.0f}x)" if len(timing) > 1 else "")]
    if "sweep" in injection:
        lines += ["", "## Embedding threshold sweep (rules + embedding; and embedding alone)", "",
                  ("| threshold | rules+emb: held-out detection | rules+emb: xstest safe FP | rules+emb: handbook FP "
                  "| emb. alone: dev detection | emb. alone: held-out detection | emb. alone: xstest safe FP |"),
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['threshold']} | " + " | ".join(_cell(r[k]) for k in list(r)[1:]) + " |" for r in injection["sweep"]]
    pii = report["pii"]
    lines += ["", f"## PII redaction ({pii['samples']} labelled sentences)", "",
              "| kind | labelled | found | precision | recall |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['kind']} | {r['labelled']} | {r['found']} | {_cell(r['precision'])} | {_cell(r['recall'])} |"
              for r in pii["rows"]]
    if pii["missed"]:
        lines += ["", "Missed: " + "; ".join(f"{m['kind']} {m['text']!r}" for m in pii["missed"])]
    if pii["false_hits"]:
        lines += ["", "False hits: " + "; ".join(f"{m['kind']} {m['text']!r}" for m in pii["false_hits"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="xstest folder (with xstest_prompts.csv)")
    parser.add_argument("--attacks", type=Path, default=DEFAULT_ATTACKS)
    parser.add_argument("--pii", type=Path, default=DEFAULT_PII)
    parser.add_argument("--documents", type=Path, default=DEFAULT_DOCUMENTS, help="folder of documents that must pass")
    parser.add_argument("--embeddings", default="local", help="embedding spec for the semantic check")
    parser.add_argument("--threshold", type=float, default=0.45)
    parser.add_argument("--no-embeddings", action="store_true", help="rules only (no model is loaded)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N texts of each source (quick run)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "out" / "guardrails")
    args = parser.parse_args(argv)

    cut = (lambda xs: xs[:args.limit]) if args.limit else (lambda xs: xs)
    attacks = [{**a, "label": "attack"} for a in cut(load_jsonl(args.attacks))]
    xstest = load_xstest(args.data)
    xstest = cut([x for x in xstest if x["label"] == "safe"]) + cut([x for x in xstest if x["label"] == "unsafe"])
    documents = cut(load_document_paragraphs(args.documents)) if args.documents.is_dir() else []
    items = attacks + xstest + documents
    detector = None if args.no_embeddings else EmbeddingInjectionDetector(args.embeddings, args.threshold)
    records = run_injection(items, detector)
    report = {
        "command": "python -m evals.guardrails " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "injection": summarise_injection(items, records, None if detector is None else args.threshold),
        "pii": score_pii(cut(load_jsonl(args.pii))),
        "flagged_safe": [{"id": it["id"], "text": it["text"], "system": s} for s in SYSTEMS if s in records
                         for it, r in zip(items, records[s]) if r["flagged"] and it["label"] in ("safe", "document")],
        "missed_attacks": [{"id": it["id"], "text": it["text"], "system": s} for s in SYSTEMS if s in records
                           for it, r in zip(items, records[s]) if not r["flagged"] and it["label"] == "attack"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "guardrails.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    table = markdown(report)
    (args.out / "guardrails.md").write_text(table, encoding="utf-8")
    print(table)
    print(f"Wrote {args.out / 'guardrails.json'} and guardrails.md")
    return report


if __name__ == "__main__":
    main()
