"""The quantization table: per model and level, size, load time, speed, perplexity and KL
divergence against the same model's F16, and task accuracy.

    python -m evals.quantization --run .hearth/finetune/runs/sql-main --levels F16,Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0
    python -m evals.quantization --run RUN --with-base --task-limit 20 --windows 4

Models: the fine-tuned run's exported levels (written by `training.export` when missing), and
with `--with-base` the bundled model at the same levels (converted from its dequantized
weights) plus the shipped Q4_1 file itself. A LoRA exported as a GGUF adapter
(`training.export --lora-gguf`) is measured on top of the shipped Q4_1 as its own row.

Columns: file size; load time; prefill and decode tokens/s at 1 and 2 threads; perplexity on a
general text no model here trained on (Alice's Adventures in Wonderland) and mean KL(F16 || level)
over the same tokens (`evals.lm_metrics`, llama.cpp's method); task accuracy = GeoQuery dev
execution accuracy of the model's own SQL (`evals.finetune.geoquery_model_only`). A level whose
task accuracy falls more than 1 point below its F16, or whose perplexity rises more than 5%, is
marked as not shippable. Writes out/quantization/<name>.json and .md.

Speeds are measured on whatever else the machine is doing: on the shared 2-core machine they are
only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from models.settings import PROJECT_ROOT

SPEED_PROMPT = ("Tables:\nCREATE TABLE state (state_name text, population int, area double, capital text);\n\n"
                "Question: what is the capital of the largest state\nSQL:")


def base_levels(levels: tuple[str, ...]) -> dict[str, Path]:
    """The bundled model at each level (from its dequantized float32 weights), plus the shipped Q4_1."""
    from models.bundled import smollm2_gguf_path
    from training.base_model import bundled_hf_folder, finetune_home
    from training.export import convert_to_gguf, quantize_gguf

    folder = finetune_home() / "base" / "gguf"
    f16 = folder / "base-F16.gguf"
    if not f16.is_file():
        convert_to_gguf(bundled_hf_folder(), f16, "f16")
    files = {"F16": f16}
    for level in levels:
        if level != "F16":
            path = folder / f"base-{level}.gguf"
            if not path.is_file():
                quantize_gguf(f16, path, level)
            files[level] = path
    files["Q4_1 (shipped)"] = smollm2_gguf_path()
    return files


def run_levels(run: Path, levels: tuple[str, ...]) -> dict[str, Path]:
    """The run's exported levels; any level missing is quantized from its F16 now."""
    from training.export import export_run, quantize_gguf

    export_file = run / "export" / "export.json"
    if not export_file.is_file():
        export_run(run, ("F16", *[lv for lv in levels if lv != "F16"]), check=0)
    export = json.loads(export_file.read_text(encoding="utf-8"))
    files = {level: Path(v["path"]) for level, v in export["levels"].items()}
    f16 = files.get("F16") or Path(export["folder"]) / f"{run.name}-F16.gguf"
    files.setdefault("F16", f16)
    for level in levels:
        if level not in files:
            files[level] = quantize_gguf(f16, Path(export["folder"]) / f"{run.name}-{level}.gguf", level)
    return {level: files[level] for level in ("F16", *[lv for lv in levels if lv != "F16"]) if level in files}


def measure(path: Path, reference: Path, text: str, geoquery: Path, task_limit: int, windows: int,
            threads: tuple[int, ...], lora: Path | None = None) -> dict:
    from evals.finetune import geoquery_model_only
    from evals.lm_metrics import perplexity_and_kl, speed

    row = {"file": str(path), "size_mb": round(path.stat().st_size / 1e6, 1)}
    if lora is None:
        row.update(perplexity_and_kl(path, text, reference=reference if path != reference else None, max_windows=windows))
        for n in threads:
            s = speed(path, SPEED_PROMPT, n)
            row[f"prefill_tok_s_{n}t"], row[f"decode_tok_s_{n}t"] = s["prefill_tok_s"], s["decode_tok_s"]
            row["load_s"] = s["load_s"]
    if task_limit >= 0:
        task = geoquery_model_only(f"gguf:{path}", geoquery, task_limit or None) if lora is None \
            else _lora_task(path, lora, geoquery, task_limit)
        row["task_accuracy"], row["task_n"] = task["accuracy"], task["n"]
    return row


def _lora_task(path: Path, lora: Path, geoquery: Path, limit: int) -> dict:
    """GeoQuery accuracy of the shipped GGUF with a LoRA GGUF adapter applied at load time."""
    from evals.finetune import _run_sql
    from evals.text2sql import load_split, same_result
    from graphs.text2sql.graph import extract_sql
    from llama_cpp import Llama

    from training.sql_data import _value_index, render_sql_prompt, sqlite_schema

    db_file = geoquery / "geography.sqlite"
    schema, index = sqlite_schema(db_file), _value_index(db_file)
    llm = Llama(model_path=str(path), lora_path=str(lora), n_ctx=2048, n_threads=1, verbose=False)
    right = n = 0
    try:
        for item in load_split(geoquery, "dev")[: limit or None]:
            gold = _run_sql(db_file, item["query"])
            if gold is None:
                continue
            messages = render_sql_prompt(item["question"], schema, index.match(item["question"]))
            reply = llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=160)
            rows = _run_sql(db_file, extract_sql(reply["choices"][0]["message"]["content"] or ""))
            right += same_result(rows, gold, "order by" in item["query"].lower())
            n += 1
    finally:
        llm.close()
    return {"accuracy": round(right / max(n, 1), 4), "n": n}


def verdicts(rows: dict[str, dict]) -> None:
    """Mark each level shippable or not against its model's F16 (task -1 point, perplexity +5%)."""
    f16 = rows.get("F16", {})
    for level, row in rows.items():
        task_ok = "task_accuracy" not in row or "task_accuracy" not in f16 or row["task_accuracy"] >= f16["task_accuracy"] - 0.01
        ppl_ok = "perplexity" not in row or "perplexity" not in f16 or row["perplexity"] <= f16["perplexity"] * 1.05
        row["shippable"] = bool(task_ok and ppl_ok)


def markdown(report: dict) -> str:
    lines = [f"# Quantization table ({report['date']})", "",
             "| model | level | MB | load s | prefill tok/s 1t / 2t | decode tok/s 1t / 2t | perplexity | mean KL vs F16 | task acc. | shippable |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for model, rows in report["models"].items():
        for level, r in rows.items():
            lines.append(f"| {model} | {level} | {r.get('size_mb')} | {r.get('load_s', '-')} | "
                         f"{r.get('prefill_tok_s_1t', '-')} / {r.get('prefill_tok_s_2t', '-')} | "
                         f"{r.get('decode_tok_s_1t', '-')} / {r.get('decode_tok_s_2t', '-')} | {r.get('perplexity', '-')} | "
                         f"{r.get('mean_kl', '-')} | "
                         + (f"{r['task_accuracy']:.1%} ({r['task_n']})" if "task_accuracy" in r else "-")
                         + f" | {'yes' if r.get('shippable') else 'no'} |")
    lines += ["", f"Task: GeoQuery dev execution accuracy, model's own SQL. Perplexity: {report['scored_tokens']} tokens of "
              "Alice's Adventures in Wonderland. Shared 2-core CPU: speeds comparable only within this run.",
              f"Wall time {report['seconds']} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=None, help="a fine-tuning run folder (training.sft)")
    parser.add_argument("--with-base", action="store_true", help="also measure the bundled model at every level")
    parser.add_argument("--levels", default="F16,Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0")
    parser.add_argument("--geoquery", default=None)
    parser.add_argument("--text", default=None, help="general text for perplexity/KL")
    parser.add_argument("--task-limit", type=int, default=0, help="GeoQuery dev items per level (0 = all 49, -1 = skip)")
    parser.add_argument("--windows", type=int, default=4, help="512-token windows for perplexity/KL")
    parser.add_argument("--threads", default="1,2", help="thread counts for the speed columns")
    parser.add_argument("--name", default="sql")
    args = parser.parse_args(argv)
    if not args.run and not args.with_base:
        parser.error("pass --run RUN_FOLDER and/or --with-base")
    from models.settings import shared_data

    geoquery = Path(args.geoquery) if args.geoquery else shared_data() / "geoquery"
    text_file = Path(args.text) if args.text else shared_data() / "alice_wonderland" / "pg11.txt"
    text = text_file.read_text(encoding="utf-8", errors="replace")
    text = text[len(text) // 3:]
    levels = tuple(lv.strip().upper() for lv in args.levels.split(",") if lv.strip())
    threads = tuple(int(t) for t in args.threads.split(",") if t.strip())
    start = time.perf_counter()
    models: dict[str, dict] = {}
    if args.with_base:
        files = base_levels(levels)
        models["bundled"] = {level: measure(p, files["F16"], text, geoquery, args.task_limit, args.windows, threads)
                             for level, p in files.items()}
    if args.run:
        run = Path(args.run)
        files = run_levels(run, levels)
        rows = {level: measure(p, files["F16"], text, geoquery, args.task_limit, args.windows, threads)
                for level, p in files.items()}
        adapters = sorted((run / "export").glob("*lora*.gguf"))
        if adapters:
            from models.bundled import smollm2_gguf_path

            rows["Q4_1 (shipped) + LoRA GGUF"] = measure(smollm2_gguf_path(), files["F16"], text, geoquery,
                                                          args.task_limit, args.windows, threads, lora=adapters[0])
            rows["Q4_1 (shipped) + LoRA GGUF"]["size_mb"] += round(adapters[0].stat().st_size / 1e6, 1)
        models[run.name] = rows
    for rows in models.values():
        verdicts(rows)
    scored = next((r.get("scored_tokens") for rows in models.values() for r in rows.values() if r.get("scored_tokens")), 0)
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "models": models, "scored_tokens": scored,
              "seconds": round(time.perf_counter() - start, 1)}
    out = PROJECT_ROOT / "out" / "quantization"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / f"{args.name}.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return report


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
