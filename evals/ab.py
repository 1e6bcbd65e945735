"""Per-variant report of an A/B test run through `apps.serve --ab`: requests, error rate, latency
p50/p95 and mean feedback score, each variant against the baseline with a significance test.

    python -m evals.ab --log .hearth/ab/ab_log.jsonl            # -> out/ab/ab_report.json + .md
    python -m evals.ab --log /tmp/ab.jsonl --baseline A --out out/ab_run2

Tests: latency, Mann-Whitney U (two-sided, scipy); feedback scores, Mann-Whitney U plus a
bootstrap 95% interval of the difference in means; error rate, Fisher's exact test. With few
feedbacks the p-values say so: read them before promoting a variant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

MIN_SAMPLES = 2


def read_log(path: Path) -> tuple[list[dict], list[dict]]:
    """(responses, feedback) records of an A/B log; a malformed line is an error naming its number."""
    responses, feedback = [], []
    with Path(path).open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number} is not JSON ({exc}); remove or fix that line.") from None
            (feedback if record.get("event") == "feedback" else responses).append(record)
    return responses, feedback


def summarize(responses: list[dict], feedback: list[dict]) -> dict[str, dict]:
    """Per-variant counts and figures.

    >>> s = summarize([{"variant": "A", "status": 200, "latency_s": 0.1}], [{"variant": "A", "score": 1}])
    >>> (s["A"]["requests"], s["A"]["error_rate"], s["A"]["feedback_mean"])
    (1, 0.0, 1.0)
    """
    out: dict[str, dict] = {}
    for name in sorted({r["variant"] for r in responses} | {f["variant"] for f in feedback}):
        rows = [r for r in responses if r["variant"] == name]
        ok = [r["latency_s"] for r in rows if r["status"] < 400]
        scores = [float(f["score"]) for f in feedback if f["variant"] == name]
        errors = sum(1 for r in rows if r["status"] >= 400)
        out[name] = {
            "requests": len(rows), "errors": errors, "error_rate": errors / len(rows) if rows else None,
            "server_errors": sum(1 for r in rows if r["status"] >= 500),
            "rate_limited": sum(1 for r in rows if r["status"] == 429),
            "users": len({r.get("user") for r in rows}),
            "latency_p50_s": float(np.percentile(ok, 50)) if ok else None,
            "latency_p95_s": float(np.percentile(ok, 95)) if ok else None,
            "feedback": len(scores), "feedback_mean": float(np.mean(scores)) if scores else None,
            "_latencies": ok, "_scores": scores,
        }
    return out


def bootstrap_mean_diff(a: list[float], b: list[float], rounds: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of mean(b) - mean(a) by resampling each group."""
    rng = np.random.default_rng(seed)
    xa, xb = np.asarray(a, float), np.asarray(b, float)
    diffs = rng.choice(xb, (rounds, len(xb))).mean(1) - rng.choice(xa, (rounds, len(xa))).mean(1)
    return float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))


def compare(base: dict, other: dict) -> dict:
    """The other variant against the baseline: differences and p-values (None: too few samples)."""
    from scipy.stats import fisher_exact, mannwhitneyu

    result: dict = {}
    la, lb = base["_latencies"], other["_latencies"]
    if len(la) >= MIN_SAMPLES and len(lb) >= MIN_SAMPLES:
        result["latency_p50_ratio"] = other["latency_p50_s"] / base["latency_p50_s"] if base["latency_p50_s"] else None
        result["latency_p_value"] = float(mannwhitneyu(la, lb, alternative="two-sided").pvalue)
    sa, sb = base["_scores"], other["_scores"]
    if len(sa) >= MIN_SAMPLES and len(sb) >= MIN_SAMPLES:
        result["feedback_diff"] = other["feedback_mean"] - base["feedback_mean"]
        result["feedback_diff_ci95"] = bootstrap_mean_diff(sa, sb)
        result["feedback_p_value"] = float(mannwhitneyu(sa, sb, alternative="two-sided").pvalue) \
            if len(set(sa) | set(sb)) > 1 else 1.0
    if base["requests"] and other["requests"]:
        table = [[base["errors"], base["requests"] - base["errors"]], [other["errors"], other["requests"] - other["errors"]]]
        result["error_rate_diff"] = other["error_rate"] - base["error_rate"]
        result["error_p_value"] = float(fisher_exact(table).pvalue)
    return result


def build_report(log: Path, baseline: str = "A") -> dict:
    responses, feedback = read_log(log)
    if not responses:
        raise ValueError(f"{log} holds no routed responses: start `python -m apps.serve --ab ...` and send chat "
                         "requests first.")
    variants = summarize(responses, feedback)
    if baseline not in variants:
        raise ValueError(f"The baseline variant {baseline!r} is not in {log}; it has {sorted(variants)}. "
                         "Pass --baseline NAME.")
    comparisons = {name: compare(variants[baseline], v) for name, v in variants.items() if name != baseline}
    public = {name: {k: v for k, v in row.items() if not k.startswith("_")} for name, row in variants.items()}
    return {"log": str(log), "baseline": baseline, "variants": public, "versus_baseline": comparisons,
            "tests": {"latency": "Mann-Whitney U, two-sided", "feedback": "Mann-Whitney U + bootstrap 95% CI of the "
                      "mean difference (2000 resamples)", "errors": "Fisher's exact test"}}


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v, digits) for v in value) + "]"
    return str(value)


def to_markdown(report: dict) -> str:
    lines = [f"# A/B report ({report['log']})", "",
             "| variant | requests | users | error rate | 429s | p50 latency (s) | p95 latency (s) | feedback n | "
             "mean feedback |", "|---|---|---|---|---|---|---|---|---|"]
    for name, v in report["variants"].items():
        lines.append(f"| {name} | {v['requests']} | {v['users']} | {_fmt(v['error_rate'])} | {v['rate_limited']} | "
                     f"{_fmt(v['latency_p50_s'])} | {_fmt(v['latency_p95_s'])} | {v['feedback']} | "
                     f"{_fmt(v['feedback_mean'])} |")
    lines += ["", f"Against baseline {report['baseline']}:", "",
              "| variant | p50 latency ratio | latency p | feedback diff | 95% CI | feedback p | error rate diff | "
              "error p |", "|---|---|---|---|---|---|---|---|"]
    for name, c in report["versus_baseline"].items():
        lines.append(f"| {name} | {_fmt(c.get('latency_p50_ratio'))} | {_fmt(c.get('latency_p_value'))} | "
                     f"{_fmt(c.get('feedback_diff'))} | {_fmt(c.get('feedback_diff_ci95'))} | "
                     f"{_fmt(c.get('feedback_p_value'))} | {_fmt(c.get('error_rate_diff'))} | "
                     f"{_fmt(c.get('error_p_value'))} |")
    lines += ["", "Tests: " + "; ".join(f"{k}: {v}" for k, v in report["tests"].items()) + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.ab", description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, required=True, help="the A/B log written by apps.serve --ab (JSONL)")
    parser.add_argument("--baseline", default="A", help="variant the others are compared with (default A)")
    parser.add_argument("--out", type=Path, default=Path("out/ab"), help="folder for ab_report.json and .md")
    args = parser.parse_args(argv)
    if not args.log.is_file():
        print(f"evals.ab: no log at {args.log}; pass the path apps.serve printed (default "
              ".hearth/ab/ab_log.jsonl).", file=sys.stderr)
        return 2
    try:
        report = build_report(args.log, args.baseline)
    except ValueError as exc:
        print(f"evals.ab: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ab_report.json").write_text(json.dumps(report, indent=2))
    markdown = to_markdown(report)
    (args.out / "ab_report.md").write_text(markdown)
    print(markdown)
    print(f"Wrote {args.out / 'ab_report.json'} and {args.out / 'ab_report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
