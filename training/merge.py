"""Merge fine-tunes of one base with mergekit (linear, TIES, DARE-TIES, task arithmetic, SLERP), with the
tokenizer and chat template kept.

    python -m training.merge --method ties --models RUN_A RUN_B --base bundled --out .hearth/finetune/merged/sql-tools-ties
    python -m training.merge --method slerp --models RUN_A RUN_B --t 0.5
    python -m training.merge --method linear --models RUN_A RUN_B --weights 0.7 0.3
    python -m training.merge --method ties --models RUN_A RUN_B --gguf      # + merged-F16.gguf for llama.cpp
    python -m training.merge --method dare_ties --density 0.3 --no-normalize --models RUN_A RUN_B

Each model is a transformers folder or a fine-tuning run (a LoRA run is merged into its base first,
`training.base_model.resolve_base`). `--base` is the common starting model: task arithmetic and
TIES add the models' differences from it (TIES keeps the top `--density` of each difference and
resolves sign conflicts; DARE-TIES keeps a random `--density` share instead, rescaled so the expected
difference is unchanged; both divide the agreeing differences by their summed weights unless
`--no-normalize`, which adds them as task arithmetic does), SLERP interpolates two models on the
sphere (`--t`), linear averages them. mergekit runs on the CPU (`MergeOptions(cuda=False)`) in float32.

A merge can lose the chat template (mergekit #469: the tokenizer is copied, the template file is
not always): `merge_models` checks the output's tokenizer renders a chat exactly as the first
model's does and, if not, writes the first model's tokenizer files into it, then records what it
did in merge.json beside the weights.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from training.cli import run_command
from training.base_model import BUNDLED, finetune_home, resolve_base

METHODS = ("linear", "ties", "dare_ties", "task_arithmetic", "slerp")
SPARSE = ("ties", "dare_ties")  # the methods that keep a `density` share of each difference
PROBE_CHAT = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a prime."},
              {"role": "assistant", "content": "7"}]


def merge_config(method: str, models: list[str], base: str | None, weights: list[float] | None = None,
                 density: float = 0.5, t: float = 0.5, normalize: bool = True) -> dict:
    """The mergekit YAML (as a dict) for `method` over the model folders.

    >>> merge_config("linear", ["a", "b"], None)["models"]
    [{'model': 'a', 'parameters': {'weight': 0.5}}, {'model': 'b', 'parameters': {'weight': 0.5}}]
    >>> merge_config("slerp", ["a", "b"], None)["base_model"], merge_config("slerp", ["a", "b"], None)["parameters"]
    ('a', {'t': 0.5})
    >>> config = merge_config("dare_ties", ["a", "b"], "base", density=0.3, normalize=False)
    >>> config["models"][0]["parameters"], config["parameters"]
    ({'weight': 1.0, 'density': 0.3}, {'normalize': False})
    """
    if method not in METHODS:
        raise ValueError(f"unknown merge method {method!r}: choose one of {', '.join(METHODS)}")
    if len(models) < 2:
        raise ValueError("pass at least two models to merge (--models A B)")
    if weights is not None and len(weights) != len(models):
        raise ValueError(f"--weights has {len(weights)} values for {len(models)} models: give one weight per model")
    config: dict = {"merge_method": method, "dtype": "float32"}
    if method == "linear":
        weights = weights or [1.0 / len(models)] * len(models)
        config["models"] = [{"model": m, "parameters": {"weight": w}} for m, w in zip(models, weights)]
    elif method == "slerp":
        if len(models) != 2:
            raise ValueError("SLERP interpolates exactly two models: pass --models A B")
        config.update(base_model=models[0], models=[{"model": m} for m in models], parameters={"t": t})
    else:
        if base is None:
            raise ValueError(f"{method} adds the models' differences from their common base: pass --base")
        weights = weights or [1.0] * len(models)
        params = [{"weight": w} | ({"density": density} if method in SPARSE else {}) for w in weights]
        config.update(base_model=base, models=[{"model": m, "parameters": p} for m, p in zip(models, params)])
        if method in SPARSE:
            config["parameters"] = {"normalize": normalize}
    return config


def render_probe(folder: str | Path) -> str:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return tokenizer.apply_chat_template(PROBE_CHAT, tokenize=False)


def merge_models(method: str, models: list[str | Path], base: str | Path | None = BUNDLED, out: str | Path | None = None,
                 weights: list[float] | None = None, density: float = 0.5, t: float = 0.5, seed: int = 0,
                 normalize: bool = True) -> Path:
    """Merge `models` with mergekit into `out` (a transformers folder); returns `out`."""
    import yaml
    from mergekit.config import MergeConfiguration
    from mergekit.merge import MergeOptions, run_merge

    folders = [str(resolve_base(m)) for m in models]
    base_folder = str(resolve_base(base)) if base is not None and method in (*SPARSE, "task_arithmetic") else None
    out = Path(out or finetune_home() / "merged" / f"{method}-{time.strftime('%Y%m%d-%H%M%S')}")
    config = merge_config(method, folders, base_folder, weights, density, t, normalize)
    start = time.monotonic()
    run_merge(MergeConfiguration.model_validate(config), str(out),
              MergeOptions(cuda=False, copy_tokenizer=True, random_seed=seed, write_model_card=False, quiet=True,
                           safe_serialization=True))
    seconds = time.monotonic() - start
    expected = render_probe(folders[0])
    repaired = False
    try:
        kept = render_probe(out) == expected
    except Exception:  # no tokenizer or no template at all
        kept = False
    if not kept:
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(folders[0], local_files_only=True).save_pretrained(out)
        repaired = True
        if render_probe(out) != expected:
            raise RuntimeError(f"the merged model at {out} renders chats differently from {folders[0]} even with its "
                               "tokenizer copied: check the models share one tokenizer")
    (out / "mergekit_config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (out / "merge.json").write_text(json.dumps({"method": method, "models": folders, "base": base_folder,
                                                "config": config, "seconds": round(seconds, 1),
                                                "chat_template_repaired": repaired}, indent=2), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", choices=METHODS, required=True)
    parser.add_argument("--models", nargs="+", required=True, help="two or more transformers folders or run folders")
    parser.add_argument("--base", default=BUNDLED, help="the models' common base (ties, task_arithmetic)")
    parser.add_argument("--weights", nargs="+", type=float, default=None, help="one weight per model")
    parser.add_argument("--density", type=float, default=0.5, help="TIES, DARE-TIES: share of each difference kept")
    parser.add_argument("--no-normalize", dest="normalize", action="store_false",
                        help="TIES, DARE-TIES: add the kept differences (as task arithmetic) instead of averaging them")
    parser.add_argument("--t", type=float, default=0.5, help="SLERP: 0 = first model, 1 = second")
    parser.add_argument("--out", default=None, help="output folder (default $HEARTH_HOME/finetune/merged/METHOD-STAMP)")
    parser.add_argument("--gguf", action="store_true",
                        help="also write OUT/merged-F16.gguf (llama.cpp's converter): `gguf:OUT/merged-F16.gguf` serves it")
    args = parser.parse_args(argv)
    out = merge_models(args.method, args.models, args.base, args.out, args.weights, args.density, args.t,
                       normalize=args.normalize)
    extra = {"out": str(out)}
    if args.gguf:
        from training.export import convert_to_gguf

        extra["gguf"] = str(convert_to_gguf(out, out / "merged-F16.gguf"))
    print(json.dumps(json.loads((out / "merge.json").read_text(encoding="utf-8")) | extra, indent=2))
    return out


if __name__ == "__main__":
    sys.exit(run_command(main, succeeded=lambda result: True))
