"""Export a fine-tune: merge the adapter, write a transformers folder, convert to GGUF with
llama.cpp's own converter, quantize, and check that the GGUF still answers like the fine-tune.

    python -m training.export .hearth/finetune/runs/sql-20261202-1730                   # F16 + Q8_0 (+ checks)
    python -m training.export RUN --levels F16,Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0 --lora-gguf
    ollama create hearth-sql -f RUN/export/Modelfile                                    # serve it with Ollama
    vllm serve RUN/merged                                                               # or with vLLM (GPU box)

Steps, each a function:
- `merge_run(run)`: PEFT's `merge_and_unload` folds the LoRA into the base; `run/merged/` gets
  safetensors, the tokenizer and the chat template (what `hf:` and `vllm serve` load).
- `convert_to_gguf(folder, out)`: `convert_hf_to_gguf.py` from the llama.cpp sources inside the
  llama-cpp-python source distribution (found in ~/.cache/hearth/llama-cpp-src, else fetched there
  once with `pip download llama-cpp-python==VERSION --no-deps --no-binary :all:`).
- `quantize_gguf(f16, out, level)`: `llama_cpp.llama_model_quantize`.
- `convert_lora_to_gguf(run)`: the adapter alone as a GGUF LoRA that llama.cpp applies at load time.
- `greedy_agreement(folder, gguf, prompts)`: the same chat prompts, greedy, through transformers
  and llama.cpp; the share of identical answers.
- `write_modelfile(gguf)`: an Ollama Modelfile with SmolLM2's ChatML template and stop tokens.

Why the level matters (../shared/MACHINE.md): the bundled weights are themselves dequantized
Q4_1, so a fine-tune re-quantized to Q4_1 snaps back onto the same grid and loses what it learned
(held-out exact match 0.80 -> 0.05 on a toy task). Q4_1 is refused for fine-tunes of the bundled
model unless `force=True`, and every level whose answers agree with the fine-tune on fewer than
`min_agreement` of the check prompts is flagged `loses_finetune` with a loud warning.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
import warnings
from pathlib import Path

from training.cli import run_command
from training.base_model import load_model, resolve_base

LEVELS = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q4_1")
DEFAULT_LEVELS = ("F16", "Q8_0")
LOSSY_FOR_BUNDLED = ("Q4_1",)  # the bundled base's own grid: a fine-tune snaps back onto it
LLAMA_CPP_VERSION = "0.3.36"
CHATML_TEMPLATE = """{{ if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ .Response }}<|im_end|>
"""


class QuantizationLosesFinetune(ValueError):
    """A quantization level known (or measured) to undo the fine-tune."""


# -- merge --------------------------------------------------------------------------------------
def run_info(run: str | Path) -> dict:
    path = Path(run) / "run.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run} is not a fine-tuning run folder (no run.json). Pass the folder `python -m training.sft` printed.")
    return json.loads(path.read_text(encoding="utf-8"))


def run_task(info: dict) -> str | None:
    """What a run was fine-tuned for ("tool_calls", "sql", "grounded"): the most common
    task of its training rows, from run.json, else counted in its data file when that is still here."""
    from training.task_data import read_dataset, task_counts

    tasks = info.get("tasks")
    if not tasks:
        data = Path(info.get("settings", {}).get("data") or "")
        if not data.is_file():
            return None
        tasks = task_counts(read_dataset(data, check=False))
    return max(tasks, key=tasks.get) if tasks else None


def run_base_folder(info: dict) -> Path:
    """The folder a LoRA run's adapter applies to: the one it trained on, or, for a run trained on another
    machine (a GPU box, whose paths do not exist here), the same base resolved on this one."""
    recorded = Path(info.get("base_folder") or "")
    if (recorded / "config.json").is_file():
        return recorded
    base = info.get("settings", {}).get("base", "bundled")
    try:
        return resolve_base(base)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"the run's base model {str(recorded)!r} (--base {base!r}) is not on this machine: copy it "
                                "here and set base_folder in the run's run.json to its folder") from exc


def merge_run(run: str | Path, force: bool = False) -> Path:
    """The run's weights as one plain transformers folder `run/merged` (LoRA merged into the base)."""
    run = Path(run)
    out = run / "merged"
    if (out / "config.json").is_file() and not force:
        return out
    info = run_info(run)
    if (run / "model" / "config.json").is_file():  # a full fine-tune is already a plain model
        model, tokenizer = load_model(run / "model")
    else:
        from peft import PeftModel

        model, tokenizer = load_model(run_base_folder(info))
        model = PeftModel.from_pretrained(model, str(run / "adapter")).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


# -- llama.cpp's converters ---------------------------------------------------------------------------
def cache_folder() -> Path:
    return Path(os.environ.get("HEARTH_CACHE") or Path.home() / ".cache" / "hearth")


def llama_cpp_tools(version: str = LLAMA_CPP_VERSION, download: bool = True) -> Path:
    """A folder with llama.cpp's convert_hf_to_gguf.py, convert_lora_to_gguf.py and gguf-py,
    taken from the llama-cpp-python source distribution (cached; never part of the project)."""
    if os.environ.get("HEARTH_LLAMA_CPP_SRC"):
        return Path(os.environ["HEARTH_LLAMA_CPP_SRC"])
    root = cache_folder() / "llama-cpp-src"
    tools = root / f"llama.cpp-{version}"
    if (tools / "convert_hf_to_gguf.py").is_file() and (tools / "conversion").is_dir():
        return tools
    sdist = root / f"llama_cpp_python-{version}.tar.gz"
    if not sdist.is_file():
        if not download:
            raise FileNotFoundError(f"llama.cpp's converter is not cached at {tools}. Run `python -m training.export --fetch-converter` "
                                    "once with network access (it downloads the llama-cpp-python source distribution).")
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", f"llama-cpp-python=={version}", "--no-deps",
                        "--no-binary", ":all:", "-d", str(root)], check=True)
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    wanted = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "gguf-py/", "conversion/")
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            if member.name.startswith(prefix) and member.name[len(prefix):].startswith(wanted) and member.isfile():
                target = tools / member.name[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.extractfile(member).read())
    return tools


def _run_converter(script: str, args: list[str]) -> None:
    tools = llama_cpp_tools()
    env = {**os.environ, "PYTHONPATH": str(tools / "gguf-py") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "NO_LOCAL_GGUF": ""}
    done = subprocess.run([sys.executable, str(tools / script), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def convert_to_gguf(folder: str | Path, out: str | Path, outtype: str = "f16") -> Path:
    """A transformers folder as one GGUF file (`outtype` f32, f16, bf16 or q8_0)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _run_converter("convert_hf_to_gguf.py", [str(folder), "--outfile", str(out), "--outtype", outtype])
    return out


def convert_lora_to_gguf(run: str | Path, out: str | Path | None = None) -> Path:
    """The run's LoRA adapter as a GGUF adapter: `Llama(model_path=BASE, lora_path=THIS)`."""
    run = Path(run)
    info = run_info(run)
    out = Path(out or run / "export" / "lora-F16.gguf")
    out.parent.mkdir(parents=True, exist_ok=True)
    _run_converter("convert_lora_to_gguf.py", [str(run / "adapter"), "--base", str(run_base_folder(info)), "--outfile", str(out),
                                               "--outtype", "f16"])
    return out


def quantize_gguf(source: str | Path, out: str | Path, level: str, threads: int = 2) -> Path:
    """`source` (F16/F32 GGUF) quantized to `level` with llama.cpp."""
    import llama_cpp

    level = level.upper()
    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{level}", None)
    if ftype is None:
        raise ValueError(f"Unknown quantization level {level!r}: use one of {', '.join(LEVELS)}.")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params)
    if code != 0:
        raise RuntimeError(f"llama_model_quantize({level}) returned {code} for {source}.")
    return Path(out)


# -- checks -----------------------------------------------------------------------------------------
def transformers_greedy(folder: str | Path, prompts: list[list[dict]], max_new_tokens: int = 64) -> list[str]:
    import torch

    model, tokenizer = load_model(folder)
    model.eval()
    answers = []
    with torch.no_grad():
        for messages in prompts:
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            output = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            answers.append(tokenizer.decode(output[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return answers


def llamacpp_greedy(gguf: str | Path, prompts: list[list[dict]], max_new_tokens: int = 64, lora: str | Path | None = None,
                    tokenizer_folder: str | Path | None = None, threads: int = 2) -> list[str]:
    """Greedy answers from llama.cpp, fed the exact token ids the transformers chat template makes."""
    from llama_cpp import Llama

    from training.base_model import chat_token_ids

    tokenizer = None
    if tokenizer_folder:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder, local_files_only=True)
    llm = Llama(model_path=str(gguf), lora_path=str(lora) if lora else None, n_ctx=2048, n_threads=threads,
                verbose=False, seed=0)
    answers = []
    try:
        for messages in prompts:
            if tokenizer is not None:
                ids = chat_token_ids(tokenizer, messages, add_generation_prompt=True)
                out = []
                for token in llm.generate(ids, temp=0.0, top_k=1, top_p=1.0, repeat_penalty=1.0, reset=True):
                    if token == llm.token_eos() or len(out) >= max_new_tokens:
                        break
                    out.append(token)
                answers.append(llm.detokenize(out).decode("utf-8", errors="replace").strip())
            else:
                reply = llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=max_new_tokens)
                answers.append((reply["choices"][0]["message"]["content"] or "").strip())
    finally:
        llm.close()
    return answers


def agreement(reference: list[str], other: list[str]) -> float:
    """Share of prompts whose answers are identical.

    >>> agreement(["a", "b", "c", "d"], ["a", "b", "x", "d"])
    0.75
    """
    return sum(a == b for a, b in zip(reference, other)) / max(1, len(reference))


def validation_rows(run: str | Path, n: int | None = None) -> list[dict]:
    """The rows the run was not trained on: its validation split (same seed and split as training)."""
    from training.sft import split_rows
    from training.task_data import read_dataset

    settings = run_info(run)["settings"]
    rows = read_dataset(settings["data"], check=False)
    if settings.get("limit"):
        rows = rows[: settings["limit"]]
    _, val = split_rows(rows, settings["val_fraction"], settings["val_max"], settings["seed"])
    return (val or rows)[:n]


def check_prompts(run: str | Path, n: int = 12) -> list[list[dict]]:
    """Prompts the run was not trained on, for the GGUF/transformers agreement check."""
    return [r["prompt"] for r in validation_rows(run, n)]


def write_modelfile(gguf: str | Path, system: str | None = None) -> Path:
    """An Ollama Modelfile beside `gguf` (ChatML template, the stop tokens, greedy by default)."""
    gguf = Path(gguf)
    lines = [f"FROM ./{gguf.name}", f'TEMPLATE """{CHATML_TEMPLATE}"""', 'PARAMETER stop "<|im_end|>"',
             'PARAMETER stop "<|im_start|>"', "PARAMETER temperature 0", "PARAMETER num_ctx 4096"]
    if system:
        lines.append(f'SYSTEM """{system}"""')
    path = gguf.with_name("Modelfile" if gguf.stem.endswith("Q8_0") else f"Modelfile.{gguf.stem.split('-')[-1]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_model_card(run: str | Path, export: dict) -> Path:
    run = Path(run)
    info = run_info(run)
    metrics = info.get("metrics", {})
    settings = info["settings"]
    rows = [f"| {level} | {v['size_mb']} | {v.get('agreement', '-')} | {'yes' if v.get('loses_finetune') else 'no'} |"
            for level, v in export["levels"].items()]
    card = "\n".join([
        f"# {run.name}", "",
        f"Fine-tune of `{info['base_folder']}` ({settings['method']}, lr {settings.get('learning_rate') or 'default'},"
        f" seed {settings['seed']}) by `python -m training.sft`.", "",
        f"- data: `{settings['data']}` sha256 `{info['dataset_sha256']}` ({info.get('dataset_rows')} rows)",
        f"- steps: {metrics.get('steps')}, {metrics.get('seconds')} s, train loss {metrics.get('train_loss')}, "
        f"best validation loss {metrics.get('best_eval_loss')}",
        f"- MLflow run: {info.get('mlflow_run_id')}",
        f"- merged transformers folder: `{export['merged']}` (`hf:` spec, `vllm serve`)",
        f"- greedy agreement with the merged model on {export['check_prompts']} held-out prompts (identical answers):", "",
        "| level | MB | agreement | loses the fine-tune |", "|---|---:|---:|---|", *rows, "",
        f"Default level: {export.get('default_level')}. Ollama: `ollama create NAME -f {Path(export['folder']) / 'Modelfile'}`.", ""])
    path = Path(export["folder"]) / "README.md"
    path.write_text(card, encoding="utf-8")
    return path


def export_run(run: str | Path, levels: tuple[str, ...] = DEFAULT_LEVELS, *, check: int = 12, lora_gguf: bool = False,
               min_agreement: float = 0.5, force: bool = False, threads: int = 2) -> dict:
    """Merge, convert, quantize, check and describe a run; returns (and writes) export.json."""
    run = Path(run)
    info = run_info(run)
    levels = tuple(level.upper() for level in levels)
    unknown = [level for level in levels if level not in LEVELS]
    if unknown:
        raise ValueError(f"Unknown level(s) {unknown}: use some of {', '.join(LEVELS)}.")
    from_bundled = "smollm2-135m-instruct" in str(info["base_folder"])
    lossy = [level for level in levels if level in LOSSY_FOR_BUNDLED and from_bundled]
    if lossy and not force:
        raise QuantizationLosesFinetune(
            f"{', '.join(lossy)} undoes a fine-tune of the bundled model (its weights are dequantized Q4_1: the update snaps back "
            "onto the same grid; measured 0.80 -> 0.05 held-out exact match). Use Q8_0 (kept 0.80) or Q4_K_M, or ship the "
            "bundled Q4_1 with the LoRA as a GGUF adapter (--lora-gguf); pass force=True / --force to write it anyway.")
    start = time.monotonic()
    merged = merge_run(run)
    folder = run / "export"
    folder.mkdir(parents=True, exist_ok=True)
    f16 = convert_to_gguf(merged, folder / f"{run.name}-F16.gguf", "f16")
    files = {"F16": f16}
    for level in levels:
        if level != "F16":
            files[level] = quantize_gguf(f16, folder / f"{run.name}-{level}.gguf", level, threads=threads)
    if "F16" not in levels:
        files.pop("F16")
    result = {"run": str(run), "task": run_task(info), "merged": str(merged), "folder": str(folder), "levels": {},
              "check_prompts": 0}
    prompts = check_prompts(run, check) if check else []
    reference = transformers_greedy(merged, prompts) if prompts else []
    result["check_prompts"] = len(prompts)
    for level, path in files.items():
        entry = {"path": str(path), "size_mb": round(path.stat().st_size / 1e6, 1)}
        if prompts:
            answers = llamacpp_greedy(path, prompts, tokenizer_folder=merged, threads=threads)
            entry["agreement"] = round(agreement(reference, answers), 3)
            entry["loses_finetune"] = entry["agreement"] < min_agreement
            if entry["loses_finetune"]:
                warnings.warn(f"{level} LOSES THE FINE-TUNE: its greedy answers match the fine-tuned model on only "
                              f"{entry['agreement']:.0%} of {len(prompts)} held-out prompts (< {min_agreement:.0%}). "
                              "Do not ship this level; use Q8_0.", stacklevel=2)
        entry["modelfile"] = str(write_modelfile(path))
        result["levels"][level] = entry
    if lora_gguf and (run / "adapter").is_dir():
        adapter = convert_lora_to_gguf(run, folder / f"{run.name}-lora-F16.gguf")
        result["lora_gguf"] = {"path": str(adapter), "size_mb": round(adapter.stat().st_size / 1e6, 1)}
    kept = [lv for lv in ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16") if lv in result["levels"]
            and not result["levels"][lv].get("loses_finetune") and result["levels"][lv].get("agreement", 1) >= 0.9]
    result["default_level"] = kept[0] if kept else ("Q8_0" if "Q8_0" in result["levels"] else next(iter(result["levels"]), None))
    result["seconds"] = round(time.monotonic() - start, 1)
    (folder / "export.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    write_model_card(run, result)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", help="a run folder from `python -m training.sft`")
    parser.add_argument("--levels", default=",".join(DEFAULT_LEVELS), help=f"comma-separated, of {', '.join(LEVELS)}")
    parser.add_argument("--check", type=int, default=12, help="held-out prompts for the GGUF/transformers agreement check (0 = skip)")
    parser.add_argument("--lora-gguf", action="store_true", help="also write the LoRA alone as a GGUF adapter")
    parser.add_argument("--force", action="store_true", help="write a level known to lose the fine-tune anyway")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fetch-converter", action="store_true", help="only cache llama.cpp's converter scripts")
    args = parser.parse_args(argv)
    if args.fetch_converter:
        print(llama_cpp_tools())
        return {"tools": True}
    if not args.run:
        parser.error("pass the run folder to export")
    result = export_run(args.run, tuple(level.strip() for level in args.levels.split(",") if level.strip()),
                        check=args.check, lora_gguf=args.lora_gguf, force=args.force, threads=args.threads)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    sys.exit(run_command(main))
