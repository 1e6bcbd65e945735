"""Supervised fine-tuning (LoRA or full) with TRL's SFTTrainer, tracked in MLflow.

    python -m training.sql_data                                   # build .hearth/finetune/data/sql.jsonl
    python -m training.sft --data .hearth/finetune/data/sql.jsonl --name sql --time-budget 1800
    python -m training.sft --data ... --method full --max-steps 200        # full fine-tune
    python -m training.sft --resume .hearth/finetune/runs/sql-20261202-1730   # continue a stopped run

Starts from the bundled GGUF (dequantized once, see `training.base_model`), a transformers folder
or an earlier run (`--base`). Rows are prompt/completion chats (`training.task_data`): TRL renders
them with the model's chat template and puts the loss on the assistant turn only. A slice of the
rows (`--val-fraction`, at most `--val-max`) is held out for the validation loss, evaluated every
`--eval-steps`; training stops early when it has not improved for `--patience` evaluations and
the best checkpoint is kept. `--max-steps` and `--time-budget` bound a run; `--resume` continues
one from its last checkpoint.

Speed on 2 CPU cores (../shared/MACHINE.md): bf16 autocast is about twice as fast as float32 on
CPUs with native bf16 and several times slower on AVX2-only ones, so it is on only where the CPU
has it (`bf16_is_fast`); most memory is the 49,152-entry vocabulary's logits, so the defaults are short sequences
(`--max-length 512`), micro-batches of 4 and gradient accumulation.

A run folder ($HEARTH_HOME/finetune/runs/NAME-STAMP) holds checkpoints/, adapter/ (LoRA) or
model/ (full), loss.png and run.json (settings, data hash, metrics). The same facts go to
MLflow (experiment `hearth-sft`): params, the data set's SHA-256, per-step metrics, artifacts.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Optional

from models.runtime import configure_runtime  # OMP_WAIT_POLICY=PASSIVE etc. before torch starts its threads
from training.cli import run_command
from training.base_model import BUNDLED, chat_token_ids, finetune_home, load_model, resolve_base
from training.task_data import file_sha256, read_dataset, task_counts

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class SFTSettings:
    """Everything a run depends on; with the data hash, it reproduces the run."""

    data: str
    base: str = BUNDLED
    name: str = "sft"
    method: Literal["lora", "full"] = "lora"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    train_top_layers: Optional[int] = None  # full fine-tuning of the top N blocks only (None = all)
    learning_rate: Optional[float] = None  # 3e-4 for LoRA, 5e-5 for full
    epochs: float = 1.0
    max_steps: int = -1
    time_budget_s: Optional[float] = None
    batch_size: int = 4
    grad_accum: int = 2
    max_length: int = 512
    val_fraction: float = 0.05
    val_max: int = 48
    eval_steps: int = 40
    patience: int = 3
    warmup_steps: int = 10
    seed: int = 0
    threads: int = 1  # on a shared 2-core machine 2 threads were no faster (MACHINE.md); pass 2 when idle
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto = the CUDA GPU when torch sees one, else the CPU
    bf16: Optional[bool] = None  # None = only where the CPU has native bf16 (see bf16_is_fast)
    shared_prefix: bool = False  # rows share one long prompt (tool calls): run it once per step (shared_prefix_loss)
    gradient_checkpointing: bool = True  # TRL's default: recompute activations in the backward pass (less memory, slower)
    limit: Optional[int] = None
    experiment: str = "hearth-sft"
    out: Optional[str] = None
    resume: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def lr(self) -> float:
        return self.learning_rate or (3e-4 if self.method == "lora" else 5e-5)


configure_runtime()


def bf16_is_fast() -> bool:
    """bf16 autocast pays only on CPUs with native bf16 math (AVX512-BF16 or AMX). Measured: about
    2x faster than float32 on such a machine (MACHINE.md), but on an AVX2-only one a bf16 matmul
    was 7x slower than float32 (0.98 s vs 6.8 s for 2400x576 @ 576x1536, one thread)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def training_device(requested: str = "auto") -> str:
    """'cuda' or 'cpu' for a run: `auto` takes a CUDA GPU when torch sees one. Asking for 'cuda' on a
    machine without one is refused with the fix, not silently run on the CPU.

    >>> training_device("cpu")
    'cpu'
    """
    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device {requested!r} is not one of auto, cpu, cuda")
    if requested == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise RuntimeError("--device cuda, but torch sees no CUDA GPU here (a CPU build of torch, or no driver): "
                           "install a CUDA build of torch on a GPU machine, or pass --device cpu")
    return "cpu"


def device_and_bf16(requested: str = "auto", bf16: Optional[bool] = None) -> tuple[str, bool]:
    """(device, bf16 autocast) for a run: the device as `training_device` picks it; bf16 as asked, else
    on a GPU that supports it, else only on a CPU with native bf16 (`bf16_is_fast`). SFT, DPO and the
    reward model all decide it here.

    >>> device_and_bf16("cpu", False)
    ('cpu', False)
    """
    device = training_device(requested)
    if bf16 is not None:
        return device, bf16
    if device == "cuda":  # bf16 is native on every GPU TRL trains on here; the CPU rule does not apply
        import torch

        return device, torch.cuda.is_bf16_supported()
    return device, bf16_is_fast()


def add_device_argument(parser) -> None:
    """The `--device` option every training command shares."""
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to train: auto takes a CUDA GPU when torch sees one (bf16 there), else the CPU")


def runs_folder() -> Path:
    return finetune_home() / "runs"


def split_rows(rows: list[dict], fraction: float, at_most: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, validation): a seeded shuffle, the first `fraction` (at most `at_most`, at least 1) held out.

    >>> train, val = split_rows([{"i": i} for i in range(100)], 0.05, 48, seed=0)
    >>> len(train), len(val), {r["i"] for r in train} & {r["i"] for r in val}
    (95, 5, set())
    """
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_val = max(1, min(at_most, int(round(len(rows) * fraction)))) if len(rows) > 1 and fraction > 0 else 0
    val = [rows[i] for i in order[:n_val]]
    train = [rows[i] for i in order[n_val:]]
    return train, val


def _as_dataset(rows: list[dict]):
    from datasets import Dataset

    return Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])


def freeze_below(model, top_layers: int) -> int:
    """Train only the top `top_layers` transformer blocks and the final norm; the embeddings (tied
    to the LM head) and every lower block stay frozen, so back-propagation stops at the lowest
    trained block. On 2 cores this is the lever on step time: training the top 10 of 30 blocks
    cuts the backward pass to a third. Returns the number of trainable parameters.

    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> tiny = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32,
    ...     num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1))
    >>> n = freeze_below(tiny, 1)
    >>> [any(p.requires_grad for p in block.parameters()) for block in tiny.model.layers]
    [False, False, False, True]
    """
    blocks = model.get_decoder().layers
    if not 0 < top_layers <= len(blocks):
        raise ValueError(f"--train-top-layers must be between 1 and {len(blocks)} (the model's block count)")
    for parameter in model.parameters():
        parameter.requires_grad = False
    for block in list(blocks)[len(blocks) - top_layers:]:
        for parameter in block.parameters():
            parameter.requires_grad = True
    for parameter in model.get_decoder().norm.parameters():
        parameter.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def completion_only_loss(model, input_ids, attention_mask, labels):
    """Mean next-token cross-entropy over the labelled (assistant) positions, with the LM head applied
    to those positions only. The prompt (schema, question) is most of every row, and the head's
    49,152-way projection and softmax over it cost ~40 % of a step on a 2-core CPU for logits the loss
    then ignores; the value equals the model's own loss on the same labels.

    >>> import torch
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> _ = torch.manual_seed(0)
    >>> tiny = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32,
    ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1))
    >>> ids = torch.randint(0, 50, (2, 7)); labels = ids.clone(); labels[:, :4] = -100
    >>> full = tiny(input_ids=ids, labels=labels).loss
    >>> bool(torch.allclose(full, completion_only_loss(tiny, ids, None, labels), atol=1e-5))
    True
    """
    import torch.nn.functional as F

    hidden = model.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != -100
    logits = model.get_output_embeddings()(hidden[:, :-1][keep]).float()
    return F.cross_entropy(logits, targets[keep])


def shared_prefix_length(input_ids, labels) -> int:
    """Tokens every row of the batch starts with, ending before any labelled token (and leaving
    at least one unlabelled token per row to predict the first labelled one from).

    >>> import torch
    >>> ids = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 3, 4]])
    >>> labels = torch.tensor([[-100, -100, -100, -100, 9], [-100, -100, -100, -100, 4]])
    >>> shared_prefix_length(ids, labels)
    3
    """
    import torch

    same = (input_ids == input_ids[:1]).all(dim=0)
    common = int(same.long().cumprod(0).sum())
    first_labelled = int((labels != -100).float().argmax(dim=1).min())
    return max(0, min(common, first_labelled - 1))


def shared_prefix_loss(model, input_ids, attention_mask, labels, min_prefix: int = 64):
    """`completion_only_loss` for a batch whose rows start with the same long prompt (a toolset's
    system prompt: ~1,700 of ~1,800 tokens per home tool-call row). The shared prefix runs once,
    without gradient, and its key/value cache is reused by every row, so a step costs one prefix
    pass plus the short per-row tails instead of a full back-propagated pass per row (about 14x
    less work for a batch of 8 tool rows). The prefix is still encoded with the current weights at
    every step; what is dropped is the gradient through the prefix's own encoding (a stop-gradient
    on the shared context). Falls back to the plain loss when the prefix is short.

    >>> import torch
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> _ = torch.manual_seed(0)
    >>> tiny = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32,
    ...     num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1))
    >>> ids = torch.cat([torch.randint(0, 50, (1, 6)).repeat(3, 1), torch.randint(0, 50, (3, 4))], dim=1)
    >>> labels = ids.clone(); labels[:, :8] = -100
    >>> mask = torch.ones_like(ids)
    >>> plain = completion_only_loss(tiny, ids, mask, labels)
    >>> bool(torch.allclose(plain, shared_prefix_loss(tiny, ids, mask, labels, min_prefix=1), atol=1e-5))
    True
    """
    import torch
    import torch.nn.functional as F

    prefix = shared_prefix_length(input_ids, labels)
    if prefix < min_prefix or input_ids.shape[0] < 2:
        return completion_only_loss(model, input_ids, attention_mask, labels)
    decoder = model.get_decoder()
    with torch.no_grad():
        cache = decoder(input_ids=input_ids[:1, :prefix], use_cache=True).past_key_values
    cache.batch_repeat_interleave(input_ids.shape[0])
    tail = input_ids[:, prefix:]
    positions = torch.arange(prefix, input_ids.shape[1], device=input_ids.device).unsqueeze(0).expand_as(tail)
    mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
    hidden = decoder(input_ids=tail, attention_mask=mask, cache=cache, position_ids=positions,
                     use_cache=True).last_hidden_state
    targets = labels[:, prefix + 1:]
    keep = targets != -100
    logits = model.get_output_embeddings()(hidden[:, :-1][keep]).float()
    return F.cross_entropy(logits, targets[keep])


def _plain_loss_trainer(shared_prefix: bool = False):
    """TRL's SFTTrainer with the model's own cross-entropy. TRL 1.16 swaps in a fused LM-head
    kernel that, without Triton (on CPU), loops over vocabulary tiles in Python and also computes
    entropy and top-1 for every position: measured here, it had not finished one step of 8 x ~300
    tokens after 160 s of CPU. The labels TRL prepares (-100 outside the assistant turn) are kept."""
    from trl import SFTTrainer

    class PlainLossSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss_of = shared_prefix_loss if shared_prefix else completion_only_loss
            if return_outputs and not shared_prefix:  # evaluation: the model's own forward, logits included
                outputs = model(**{k: inputs[k] for k in ("input_ids", "attention_mask", "labels") if k in inputs})
                return outputs.loss, outputs
            loss = loss_of(model, inputs["input_ids"], inputs.get("attention_mask"), inputs["labels"])
            if return_outputs:  # evaluation of shared-prefix rows: the loss only (no 49,152-way logits kept)
                from transformers.modeling_outputs import CausalLMOutput

                return loss, CausalLMOutput(loss=loss)
            return loss

    return PlainLossSFTTrainer


def _callbacks(settings: SFTSettings, progress=None):
    from transformers import EarlyStoppingCallback, TrainerCallback

    class ReportProgress(TrainerCallback):
        """Passes (fraction done, message) to a background job's progress callback (tools.jobs)."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            total = state.max_steps or 1
            budget = settings.time_budget_s
            done = state.global_step / total
            if budget:
                done = max(done, min(1.0, (time.monotonic() - self.start) / budget))
            loss = (logs or {}).get("loss", (logs or {}).get("eval_loss"))
            progress(done, f"step {state.global_step}/{total}" + (f", loss {float(loss):.3f}" if loss is not None else ""))

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.monotonic()

    class TimeBudget(TrainerCallback):
        """Stops (after saving and evaluating) once the run has used its time budget."""

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            if settings.time_budget_s and time.monotonic() - self.start > settings.time_budget_s:
                control.should_training_stop = True
                control.should_evaluate = bool(args.eval_strategy != "no")
                control.should_save = True

    callbacks = [TimeBudget()] + ([ReportProgress()] if progress else [])
    if settings.patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=settings.patience))
    return callbacks


def plot_losses(log_history: list[dict], path: Path, title: str) -> Path:
    """Training and validation loss against the optimizer step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    val = [(h["step"], h["eval_loss"]) for h in log_history if "eval_loss" in h]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    if train:
        ax.plot(*zip(*train), ".-", label="train loss", color="#1f77b4")
    if val:
        ax.plot(*zip(*val), "o-", label="validation loss", color="#d62728")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (assistant tokens)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _last_checkpoint(folder: Path) -> str | None:
    found = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(found[-1]) if found else None


def run_sft(settings: SFTSettings, run_folder: str | Path | None = None, progress=None) -> dict:
    """Fine-tune; returns the run summary (also written to run.json and MLflow). `progress(fraction,
    message)`, when given, is called at every logged step (the lab's background jobs pass theirs)."""
    import torch
    from trl import SFTConfig

    torch.set_num_threads(max(1, settings.threads))
    device, use_bf16 = device_and_bf16(settings.device, settings.bf16)
    if run_folder is not None and (Path(run_folder) / "run.json").is_file():  # resuming a run
        run = Path(run_folder)
        saved = json.loads((run / "run.json").read_text(encoding="utf-8"))["settings"]
        settings = SFTSettings(**{**saved, "resume": True, "time_budget_s": settings.time_budget_s or saved.get("time_budget_s"),
                                  "max_steps": settings.max_steps if settings.max_steps > 0 else saved.get("max_steps", -1)})
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run = Path(run_folder or settings.out or runs_folder() / f"{settings.name}-{stamp}")
    run.mkdir(parents=True, exist_ok=True)

    rows = read_dataset(settings.data)
    if settings.limit:
        rows = rows[: settings.limit]
    train_rows, val_rows = split_rows(rows, settings.val_fraction, settings.val_max, settings.seed)
    data_hash = file_sha256(settings.data)
    base_folder = resolve_base(settings.base)
    model, tokenizer = load_model(base_folder)

    if settings.train_top_layers is not None:
        freeze_below(model, settings.train_top_layers)
    peft_config = None
    if settings.method == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                                 target_modules=LORA_TARGETS, task_type="CAUSAL_LM", bias="none")
    has_val = bool(val_rows)
    config = SFTConfig(
        output_dir=str(run / "checkpoints"), max_length=settings.max_length, packing=False,
        completion_only_loss=True, per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size, gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.lr, lr_scheduler_type="cosine", warmup_steps=settings.warmup_steps,
        num_train_epochs=settings.epochs, max_steps=settings.max_steps, seed=settings.seed, data_seed=settings.seed,
        bf16=use_bf16, use_cpu=device == "cpu", logging_steps=5, logging_first_step=True,
        eval_strategy="steps" if has_val else "no", eval_steps=settings.eval_steps,
        save_strategy="steps", save_steps=settings.eval_steps, save_total_limit=2,
        load_best_model_at_end=has_val, metric_for_best_model="eval_loss", greater_is_better=False,
        report_to="none", dataloader_num_workers=0, disable_tqdm=False, remove_unused_columns=True,
        gradient_checkpointing=settings.gradient_checkpointing and not settings.shared_prefix)  # checkpointed blocks drop the prefix cache
    if not has_val:
        settings.patience = 0

    run_id = None
    (run / "run.json").write_text(json.dumps({"settings": asdict(settings), "mlflow_run_id": run_id,
                                              "base_folder": str(base_folder), "dataset_sha256": data_hash,
                                              "state": "training"}, indent=2), encoding="utf-8")
    fits = [len(chat_token_ids(tokenizer, r["prompt"] + r["completion"])) <= settings.max_length for r in train_rows]
    too_long = fits.count(False)
    if too_long > 0.1 * len(train_rows):
        longest = max(len(chat_token_ids(tokenizer, r["prompt"] + r["completion"])) for r in train_rows)
        raise ValueError(f"{too_long} of {len(train_rows)} rows are longer than --max-length {settings.max_length} (up to "
                         f"{longest} tokens): cutting them would drop their assistant turns; pass --max-length {longest + 16}"
                         + ("" if settings.shared_prefix else " (and --shared-prefix when the rows share one long system prompt)"))
    if too_long:
        print(f"training.sft: {too_long} of {len(train_rows)} rows are longer than --max-length {settings.max_length} "
              "and are left out", file=sys.stderr)
        train_rows = [r for r, ok in zip(train_rows, fits) if ok]
    trainer = _plain_loss_trainer(settings.shared_prefix)(model=model, args=config, train_dataset=_as_dataset(train_rows),
                         eval_dataset=_as_dataset(val_rows) if has_val else None, processing_class=tokenizer,
                         peft_config=peft_config, callbacks=_callbacks(settings, progress))
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    start = time.monotonic()
    resume_from = _last_checkpoint(run / "checkpoints") if settings.resume else None
    result = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.monotonic() - start

    weights = run / ("adapter" if settings.method == "lora" else "model")
    trainer.save_model(str(weights))
    tokenizer.save_pretrained(str(weights))
    history = trainer.state.log_history
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    first_eval = next((h["eval_loss"] for h in history if "eval_loss" in h), None)
    steps = trainer.state.global_step
    tokens = sum(len(chat_token_ids(tokenizer, r["prompt"] + r["completion"])) for r in train_rows[:200])
    mean_tokens = tokens / max(1, min(200, len(train_rows)))
    examples_seen = steps * settings.batch_size * settings.grad_accum
    metrics = {"train_loss": float(result.training_loss), "steps": steps, "seconds": round(seconds, 1),
               "seconds_per_step": round(seconds / max(1, steps), 2), "examples_seen": examples_seen,
               "tokens_per_second": round(examples_seen * mean_tokens / max(seconds, 1e-9), 1),
               "best_eval_loss": min(evals) if evals else None, "first_eval_loss": first_eval,
               "trainable_parameters": trainable, "rows_too_long": too_long, "device": device, "stopped_early": bool(steps < trainer.state.max_steps)}
    plot_losses(history, run / "loss.png", f"{run.name}: {settings.method}, lr {settings.lr:g}, {steps} steps")
    summary = {"settings": asdict(settings), "mlflow_run_id": run_id, "base_folder": str(base_folder),
               "dataset_sha256": data_hash, "dataset_rows": len(rows), "tasks": task_counts(rows),
               "state": "done", "run_folder": str(run),
               "weights": str(weights), "metrics": metrics, "log_history": history}
    from training.tracking import record_run

    return record_run(run, summary)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="prompt/completion JSONL (training.sql_data, training.tool_data)")
    parser.add_argument("--base", default=BUNDLED, help="'bundled', a transformers folder, or an earlier run folder")
    parser.add_argument("--name", default="sft", help="run name prefix (task)")
    parser.add_argument("--method", choices=("lora", "full"), default="lora")
    parser.add_argument("--train-top-layers", type=int, default=None,
                        help="with --method full: train only the top N blocks (faster steps on a CPU)")
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--lora-alpha", type=int, default=32)
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default 3e-4 LoRA, 5e-5 full)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many optimizer steps")
    parser.add_argument("--time-budget", type=float, default=None, help="stop after this many seconds of training")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--grad-accum", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=512, help="tokens per example: longer rows are dropped, or refused when over 10%% of the data")
    parser.add_argument("--warmup-steps", type=int, default=10)
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--val-max", type=int, default=48)
    parser.add_argument("--eval-steps", type=int, default=40)
    parser.add_argument("--patience", type=int, default=3, help="evaluations without improvement before stopping (0 = off)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (2 helps only on an idle 2-core machine)")
    add_device_argument(parser)
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast (default: bf16 only on CPUs with native bf16)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast even without native bf16 support")
    parser.add_argument("--limit", type=int, default=None, help="use the first N rows only")
    parser.add_argument("--no-gradient-checkpointing", action="store_true",
                        help="keep activations instead of recomputing them (faster steps, more memory)")
    parser.add_argument("--shared-prefix", action="store_true",
                        help="rows start with one long shared prompt (training.tool_data): encode it once per step")
    parser.add_argument("--out", default=None, help="run folder (default $HEARTH_HOME/finetune/runs/NAME-STAMP)")
    parser.add_argument("--resume", default=None, help="a run folder to continue from its last checkpoint")
    args = parser.parse_args(argv)
    if not args.resume and not args.data:
        parser.error("pass --data (a JSONL from `python -m training.sql_data`) or --resume RUN_FOLDER")
    settings = SFTSettings(data=args.data or "", base=args.base, name=args.name, method=args.method, lora_r=args.lora_r,
                           train_top_layers=args.train_top_layers,
                           lora_alpha=args.lora_alpha, learning_rate=args.lr, epochs=args.epochs, max_steps=args.max_steps,
                           time_budget_s=args.time_budget, batch_size=args.batch_size, grad_accum=args.grad_accum,
                           max_length=args.max_length, val_fraction=args.val_fraction, val_max=args.val_max,
                           eval_steps=args.eval_steps, patience=args.patience, warmup_steps=args.warmup_steps, seed=args.seed, threads=args.threads,
                           device=args.device,
                           bf16=False if args.fp32 else (True if args.bf16 else None), limit=args.limit, out=args.out,
                           shared_prefix=args.shared_prefix, gradient_checkpointing=not args.no_gradient_checkpointing)
    if args.resume and not (Path(args.resume) / "run.json").is_file():
        parser.error(f"{args.resume} is not a run folder (no run.json): pass the folder `training.sft` printed")
    summary = run_sft(settings, run_folder=args.resume)
    print(json.dumps({k: summary[k] for k in ("run_folder", "weights", "mlflow_run_id", "dataset_sha256", "metrics")}, indent=2))
    return summary


if __name__ == "__main__":
    sys.exit(run_command(main))
