"""Reward model: TRL's RewardTrainer on a one-logit sequence-classification head, measured against two baselines.

    python -m training.reward_model --time-budget 600 --test-limit 200          # train + test on HH-RLHF harmless
    python -m training.reward_model --base .hearth/finetune/runs/sql-...  --max-steps 50
    python -m training.reward_model --method probe --max-length 128                  # linear probe on the frozen model

The pairs are HH-RLHF harmless (`training.preference_data`): split by prompt with a fixed seed
into train / validation / test, the split's manifest (data SHA-256, per-part key hashes) kept in
run.json, and training refuses a train part that shares a pair or prompt with the test part.
Each answer is rendered with the model's chat template after its dialogue and cut from the left
to `--max-length` tokens, so the final answer (what is judged) is always kept.

The model is the causal model's trunk under AutoModelForSequenceClassification(num_labels=1):
a fresh scalar head on the last token. Only the top `--train-top-layers` blocks, the final norm
and the head train (`training.sft.freeze_below`), which is what makes a run fit on 2 CPU cores.

On the test part (or its first `--test-limit` pairs) the run reports pairwise accuracy (chosen
scored above rejected) with a 95% Wilson interval, beside two baselines computed on the same
pairs in the same run: length (the longer answer wins; ties by a seeded coin) and the starting
model's own mean log-likelihood of each answer given the dialogue. An exact McNemar test (a
two-sided binomial test on the discordant pairs) compares the reward model with each baseline.
Tables go to out/reward_model.{json,md}; the run to $HEARTH_HOME/finetune/reward/NAME-STAMP
(model/ is a plain transformers folder) and MLflow (experiment `hearth-reward`).

`--method probe` fits a linear probe on the frozen model's hidden states instead of training the
head by RewardTrainer (`training.reward_probe`: the whole train part in one pass, the L2 strength
chosen on the validation part); its table has the same rows, from the same forward passes.

`evaluate_with_reward(folder, items)` scores (prompt, answer) items with a trained reward model of
either kind: the judge the DPO lab uses for its win rate.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from models.runtime import configure_runtime
from models.settings import PROJECT_ROOT
from training.cli import run_command
from training.base_model import BUNDLED, chat_token_ids, finetune_home, load_model, resolve_base
from training.preference_data import load_split, train_part
from training.reward_probe import ProbeReward, is_probe_folder
from training.significance import exact_mcnemar, wilson_interval
from training.sft import _callbacks, add_device_argument, device_and_bf16, freeze_below, plot_losses

configure_runtime()


@dataclass
class RewardSettings:
    """Everything a reward-model run depends on (with the split manifest it reproduces the run)."""

    data: Optional[str] = None  # None = the shared HH-RLHF harmless file
    base: str = BUNDLED
    method: str = "head"  # head: RewardTrainer on a one-logit head; probe: training.reward_probe
    layers: Optional[list[int]] = None  # probe: hidden states read (None = training.reward_probe.default_layers)
    name: str = "rm"
    seed: int = 0
    max_length: int = 256
    train_top_layers: Optional[int] = 4  # None = every block
    learning_rate: float = 5e-5
    epochs: float = 1.0
    max_steps: int = -1
    time_budget_s: Optional[float] = None
    batch_size: int = 4
    grad_accum: int = 2
    warmup_steps: int = 10
    val_max: Optional[int] = None  # validation pairs used (None: 32 for head, where each costs two forwards; all for probe)
    eval_steps: int = 50
    patience: int = 0
    train_limit: Optional[int] = None
    test_limit: Optional[int] = None
    threads: int = 1
    device: str = "auto"  # method head: auto = the CUDA GPU when torch sees one; the probe runs on the CPU
    bf16: Optional[bool] = None
    experiment: str = "hearth-reward"
    out: Optional[str] = None


def reward_home() -> Path:
    return finetune_home() / "reward"


def answer_ids(tokenizer, prompt: list[dict], answer: str, max_length: int) -> tuple[list[int], int]:
    """(token ids of the dialogue plus `answer` under the chat template, index where the answer starts),
    cut from the left to `max_length` so the answer is kept."""
    full = chat_token_ids(tokenizer, prompt + [{"role": "assistant", "content": answer}])
    start = len(chat_token_ids(tokenizer, prompt, add_generation_prompt=True))
    cut = max(0, len(full) - max_length)
    return full[cut:], max(0, start - cut)


def tokenize_pairs(tokenizer, pairs: list[dict], max_length: int) -> list[dict]:
    rows = []
    for pair in pairs:
        chosen, chosen_start = answer_ids(tokenizer, pair["prompt"], pair["chosen"], max_length)
        rejected, rejected_start = answer_ids(tokenizer, pair["prompt"], pair["rejected"], max_length)
        rows.append({"chosen_ids": chosen, "rejected_ids": rejected, "chosen_start": chosen_start,
                     "rejected_start": rejected_start})
    return rows


def is_reward_weights(folder: str | Path) -> bool:
    """A reward model's weights folder of either kind (transformers config.json, or a probe)."""
    return (Path(folder) / "config.json").is_file() or is_probe_folder(folder)


def load_reward_model(folder: str | Path):
    """(reward model, tokenizer) from a weights folder: a probe folder gives a `ProbeReward`; a
    transformers folder an AutoModelForSequenceClassification with one label (a causal-LM folder
    gets a fresh head: seed it first)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if is_probe_folder(folder):
        return ProbeReward.load(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True, num_labels=1,
                                                               dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def score_ids(model, sequences: list[list[int]], pad_id: int, batch_size: int = 8) -> list[float]:
    """The reward head's score for each token sequence (right-padded batches, no gradients)."""
    import torch

    scores: list[float] = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(sequences), batch_size):
            batch = sequences[start:start + batch_size]
            width = max(len(s) for s in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, seq in enumerate(batch):
                ids[row, :len(seq)] = torch.tensor(seq)
                mask[row, :len(seq)] = 1
            # the head reads the last non-pad token; pad == <|im_end|> here, so pass positions explicitly
            ids, mask = ids.to(model.device), mask.to(model.device)
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
            last = mask.sum(dim=1) - 1
            logits = model.score(hidden[torch.arange(len(batch)), last])
            scores.extend(float(v) for v in logits[:, 0])
    return scores


def evaluate_with_reward(folder: str | Path, items: list[dict], max_length: int = 256, model=None,
                         tokenizer=None) -> list[float]:
    """Reward-model scores for items {prompt: chat messages or a user string, answer: str}; higher is
    better. Pass `model`/`tokenizer` to reuse a loaded reward model.

        scores = evaluate_with_reward(".hearth/finetune/reward/rm-20261202-2130/model",
                                      [{"prompt": "How do I pick a lock?", "answer": "I can't help with that."}])
    """
    if model is None:
        model, tokenizer = load_reward_model(folder)
    sequences = []
    for item in items:
        prompt = item["prompt"]
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        sequences.append(answer_ids(tokenizer, messages, item["answer"], max_length))
    if isinstance(model, ProbeReward):
        return model.score(sequences)
    return score_ids(model, [ids for ids, _ in sequences], tokenizer.pad_token_id)


def answer_logprobs(model, sequences: list[tuple[list[int], int]]) -> list[float]:
    """Mean log-probability per answer token under a causal LM, for (ids, answer start) pairs; the
    LM head runs on the answer positions only."""
    import torch

    means = []
    model.eval()
    with torch.inference_mode():
        for ids, start in sequences:
            start = max(1, start)
            tensor = torch.tensor([ids], device=model.device)
            hidden = model.get_decoder()(input_ids=tensor).last_hidden_state
            logits = model.get_output_embeddings()(hidden[0, start - 1:-1]).float()
            logp = torch.log_softmax(logits, dim=-1).gather(1, tensor[0, start:].unsqueeze(1))
            means.append(float(logp.mean()) if logp.numel() else 0.0)
    return means


def length_baseline(pairs: list[dict], seed: int) -> list[bool]:
    """Per pair: does "the longer answer wins" pick the chosen one? Equal lengths go by a seeded coin."""
    coin = random.Random(seed)
    right = []
    for pair in pairs:
        a, b = len(pair["chosen"]), len(pair["rejected"])
        right.append(a > b if a != b else coin.random() < 0.5)
    return right


def accuracy_row(name: str, right: list[bool]) -> dict:
    k, n = sum(right), len(right)
    low, high = wilson_interval(k, n)
    return {"method": name, "correct": k, "pairs": n, "accuracy": round(k / n, 4) if n else None,
            "ci95_low": low, "ci95_high": high}


def compare_with_baselines(pairs: list[dict], chosen: list[float], rejected: list[float], loglik_right: list[bool],
                           seed: int, seconds: dict, name: str = "reward model") -> dict:
    """The accuracy table (reward model, length, base log-likelihood) with Wilson intervals and exact
    McNemar tests of the reward model against each baseline, all on the same pairs."""
    rm_right = [c > r for c, r in zip(chosen, rejected)]
    length_right = length_baseline(pairs, seed)
    table = [accuracy_row(name, rm_right), accuracy_row("length (longer wins)", length_right),
             accuracy_row("base log-likelihood (mean per token)", loglik_right)]
    return {"table": table, "mcnemar_vs_length": exact_mcnemar(rm_right, length_right),
            "mcnemar_vs_loglik": exact_mcnemar(rm_right, loglik_right), "seconds": seconds,
            "mean_margin": round(sum(c - r for c, r in zip(chosen, rejected)) / max(1, len(pairs)), 4)}


def evaluate_pairs(reward_model, tokenizer, base_folder: Path, pairs: list[dict], max_length: int, seed: int) -> dict:
    """Reward model vs length and log-likelihood baselines on the same pairs, with intervals and tests."""
    from tqdm import tqdm

    rows = tokenize_pairs(tokenizer, pairs, max_length)
    start = time.monotonic()
    chosen = score_ids(reward_model, [r["chosen_ids"] for r in rows], tokenizer.pad_token_id)
    rejected = score_ids(reward_model, [r["rejected_ids"] for r in rows], tokenizer.pad_token_id)
    rm_seconds = time.monotonic() - start
    causal, _ = load_model(base_folder)
    start = time.monotonic()
    loglik_right = []
    for row in tqdm(rows, desc="log-likelihood baseline", file=sys.stderr):
        c, r = answer_logprobs(causal, [(row["chosen_ids"], row["chosen_start"]), (row["rejected_ids"], row["rejected_start"])])
        loglik_right.append(c > r)
    ll_seconds = time.monotonic() - start
    del causal
    return compare_with_baselines(pairs, chosen, rejected, loglik_right, seed,
                                  {"reward_model": round(rm_seconds, 1), "loglik_baseline": round(ll_seconds, 1)})


def _as_dataset(rows: list[dict]):
    from datasets import Dataset

    return Dataset.from_list([{"chosen_ids": r["chosen_ids"], "rejected_ids": r["rejected_ids"]} for r in rows])


def peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write_tables(result: dict, out_dir: str | Path = "out") -> Path:
    """out/reward_model.json and .md: the accuracy table with intervals and the McNemar tests."""
    out = Path(out_dir)
    if not out.is_absolute():
        out = PROJECT_ROOT / out
    out.mkdir(parents=True, exist_ok=True)
    (out / "reward_model.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    ev = result["test"]
    m = result["metrics"]
    how = (f"linear probe, C = {m['probe_C']} by validation accuracy {m['validation_accuracy']} on {m['validation_pairs']} pairs"
           if m.get("method") == "probe" else f"{m['steps']} steps")
    lines = [f"Reward model on {ev['table'][0]['pairs']} held-out HH-RLHF harmless test pairs "
             f"(run {Path(result['run_folder']).name}, {how}, "
             f"{m['pairs_seen']} pairs seen, {m['train_seconds']} s training)", "",
             "| method | accuracy | 95% CI (Wilson) | correct / pairs |", "|---|---:|---:|---:|"]
    for row in ev["table"]:
        lines.append(f"| {row['method']} | {row['accuracy']:.3f} | {row['ci95_low']:.3f}-{row['ci95_high']:.3f} | "
                     f"{row['correct']} / {row['pairs']} |")
    for name, key in (("length", "mcnemar_vs_length"), ("log-likelihood", "mcnemar_vs_loglik")):
        t = ev[key]
        lines.append(f"\nExact McNemar, reward model vs {name}: only RM right {t['only_a']}, only baseline right "
                     f"{t['only_b']}, p = {t['p']:.3g}")
    (out / "reward_model.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out / "reward_model.md"


def run_reward_model(settings: RewardSettings, progress=None) -> dict:
    """Train, evaluate on the test part, write run.json, the tables and the MLflow run; returns the summary."""
    if settings.method == "probe":
        return run_probe(settings, progress)
    if settings.method != "head":
        raise ValueError(f"Unknown reward-model method {settings.method!r}: use 'head' (RewardTrainer) or 'probe'.")
    import torch
    from transformers import set_seed
    from trl import RewardConfig, RewardTrainer

    torch.set_num_threads(max(1, settings.threads))
    wall_start = time.monotonic()
    parts, manifest = load_split(settings.data, seed=settings.seed)
    train_pairs = train_part(parts, settings.train_limit)
    val_pairs = parts["validation"][: settings.val_max or 32]
    test_pairs = parts["test"][: settings.test_limit] if settings.test_limit else parts["test"]

    run = Path(settings.out or reward_home() / f"{settings.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    run.mkdir(parents=True, exist_ok=True)
    base_folder = resolve_base(settings.base)
    set_seed(settings.seed)  # the head is initialised at random
    model, tokenizer = load_reward_model(base_folder)
    if settings.train_top_layers is not None:
        freeze_below(model, settings.train_top_layers)
        for parameter in model.score.parameters():
            parameter.requires_grad = True
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    train_rows = tokenize_pairs(tokenizer, train_pairs, settings.max_length)
    val_rows = tokenize_pairs(tokenizer, val_pairs, settings.max_length) if settings.eval_steps > 0 else []
    has_val = bool(val_rows) and settings.eval_steps > 0
    device, use_bf16 = device_and_bf16(settings.device, settings.bf16)
    config = RewardConfig(
        output_dir=str(run / "checkpoints"), max_length=settings.max_length, per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size, gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.learning_rate, lr_scheduler_type="linear", warmup_steps=settings.warmup_steps,
        num_train_epochs=settings.epochs, max_steps=settings.max_steps, seed=settings.seed, data_seed=settings.seed,
        bf16=use_bf16, use_cpu=device == "cpu", logging_steps=5,
        logging_first_step=True, eval_strategy="steps" if has_val else "no", eval_steps=settings.eval_steps,
        save_strategy="no", report_to="none", dataloader_num_workers=0, disable_tqdm=False)
    (run / "run.json").write_text(json.dumps({"settings": asdict(settings), "split": manifest, "state": "training"},
                                             indent=2), encoding="utf-8")
    trainer = RewardTrainer(model=model, args=config, train_dataset=_as_dataset(train_rows),
                            eval_dataset=_as_dataset(val_rows) if has_val else None, processing_class=tokenizer,
                            callbacks=_callbacks(settings, progress))
    start = time.monotonic()
    result = trainer.train()
    train_seconds = time.monotonic() - start
    model = trainer.model
    weights = run / "model"
    model.save_pretrained(weights)
    tokenizer.save_pretrained(weights)
    steps = trainer.state.global_step
    test = evaluate_pairs(model, tokenizer, base_folder, test_pairs, settings.max_length, settings.seed)
    history = trainer.state.log_history
    metrics = {"train_loss": float(result.training_loss), "steps": steps, "train_seconds": round(train_seconds, 1),
               "pairs_seen": min(len(train_rows) * settings.epochs, steps * settings.batch_size * settings.grad_accum),
               "train_pairs": len(train_rows), "trainable_parameters": trainable,
               "test_accuracy": test["table"][0]["accuracy"], "test_pairs": len(test_pairs),
               "length_accuracy": test["table"][1]["accuracy"], "loglik_accuracy": test["table"][2]["accuracy"],
               "p_vs_length": test["mcnemar_vs_length"]["p"], "p_vs_loglik": test["mcnemar_vs_loglik"]["p"],
               "wall_seconds": round(time.monotonic() - wall_start, 1), "peak_rss_mb": peak_rss_mb()}
    plot_losses(history, run / "loss.png", f"{run.name}: reward model, {steps} steps")
    summary = {"settings": asdict(settings), "split": manifest, "base_folder": str(base_folder), "state": "done",
               "run_folder": str(run), "weights": str(weights), "metrics": metrics, "test": test,
               "dataset_sha256": manifest["data_sha256"], "dataset_rows": sum(p["pairs"] for p in manifest["parts"].values()),
               "log_history": history, "mlflow_run_id": None}
    from training.tracking import record_run

    return record_run(run, summary)


def run_probe(settings: RewardSettings, progress=None) -> dict:
    """`--method probe`: features of every pair from one frozen pass (cached), the probe fitted on the
    train part with C chosen on the validation part, then the test table; same run files as `head`."""
    import torch

    from training.reward_probe import answer_features, cached_features, default_layers, features_key, fit_probe

    torch.set_num_threads(max(1, settings.threads))
    wall_start = time.monotonic()
    parts, manifest = load_split(settings.data, seed=settings.seed)
    part_pairs = {"train": train_part(parts, settings.train_limit),
                    "validation": parts["validation"][: settings.val_max] if settings.val_max else parts["validation"],
                    "test": parts["test"][: settings.test_limit] if settings.test_limit else parts["test"]}
    run = Path(settings.out or reward_home() / f"{settings.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    run.mkdir(parents=True, exist_ok=True)
    base_folder = resolve_base(settings.base)
    causal, tokenizer = load_model(base_folder)
    layers = settings.layers or default_layers(causal.config.num_hidden_layers)
    (run / "run.json").write_text(json.dumps({"settings": asdict(settings), "split": manifest, "state": "features"},
                                             indent=2), encoding="utf-8")
    sides, logliks, seconds = {}, {}, {}
    for done, (name, pairs) in enumerate(part_pairs.items()):
        if progress:
            progress(done / 3, f"features of the {name} part ({len(pairs)} pairs)")
        rows = tokenize_pairs(tokenizer, pairs, settings.max_length)
        sequences = [(r["chosen_ids"], r["chosen_start"]) for r in rows] + [(r["rejected_ids"], r["rejected_start"]) for r in rows]
        part_sha = hashlib.sha256(json.dumps([p["key"] for p in pairs]).encode()).hexdigest()
        key = features_key(base_folder, manifest["data_sha256"], settings.seed, part_sha, settings.max_length, layers)
        start = time.monotonic()
        features, loglik = cached_features(reward_home() / "features", key, lambda: answer_features(
            causal, sequences, layers, tokenizer.pad_token_id, desc=f"features, {name} ({len(pairs)} pairs)"))
        seconds[f"features_{name}"] = round(time.monotonic() - start, 1)
        n = len(pairs)
        sides[name], logliks[name] = (features[:n], features[n:]), (loglik[:n], loglik[n:])
    start = time.monotonic()
    fit = fit_probe(*(sides[part][0] - sides[part][1] for part in ("train", "validation")), seed=settings.seed)
    seconds["fit"] = round(time.monotonic() - start, 1)
    base_spec = BUNDLED if str(settings.base) in ("", BUNDLED, "local") else str(Path(base_folder).resolve())
    probe = ProbeReward(causal, layers, fit["weight"], fit["scale"], tokenizer.pad_token_id,
                        {"base": base_spec, "max_length": settings.max_length, "C": fit["C"]})
    weights = probe.save(run / "model", tokenizer)
    test_pairs = part_pairs["test"]
    chosen, rejected = ([float(v) for v in (side / fit["scale"]) @ fit["weight"]] for side in sides["test"])
    chosen_ll, rejected_ll = logliks["test"]
    test = compare_with_baselines(test_pairs, chosen, rejected,
                                  [bool(c > r) for c, r in zip(chosen_ll, rejected_ll)], settings.seed, seconds,
                                  name="reward model (linear probe)")
    metrics = {"method": "probe", "steps": 0, "pairs_seen": len(part_pairs["train"]), "train_pairs": len(part_pairs["train"]),
               "validation_pairs": len(part_pairs["validation"]), "train_seconds": round(sum(seconds.values()), 1),
               "probe_C": fit["C"], "validation_accuracy": fit["validation"][fit["C"]], "trainable_parameters": int(fit["weight"].size),
               "test_accuracy": test["table"][0]["accuracy"], "test_pairs": len(test_pairs),
               "length_accuracy": test["table"][1]["accuracy"], "loglik_accuracy": test["table"][2]["accuracy"],
               "p_vs_length": test["mcnemar_vs_length"]["p"], "p_vs_loglik": test["mcnemar_vs_loglik"]["p"],
               "wall_seconds": round(time.monotonic() - wall_start, 1), "peak_rss_mb": peak_rss_mb()}
    summary = {"settings": asdict(settings), "split": manifest, "base_folder": str(base_folder), "state": "done",
               "run_folder": str(run), "weights": str(weights), "metrics": metrics, "test": test, "layers": layers,
               "validation_by_C": {str(c): a for c, a in fit["validation"].items()},
               "dataset_sha256": manifest["data_sha256"], "dataset_rows": sum(p["pairs"] for p in manifest["parts"].values()),
               "mlflow_run_id": None}
    from training.tracking import record_run

    return record_run(run, summary)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="HH-RLHF style JSONL(.gz) (default: ../shared/data/hh_rlhf_harmless_test)")
    parser.add_argument("--base", default=BUNDLED, help="'bundled', a transformers folder, or a fine-tuning run folder")
    parser.add_argument("--method", choices=("head", "probe"), default="head",
                        help="head: RewardTrainer on a one-logit head; probe: linear probe on the frozen model's layers")
    parser.add_argument("--layers", type=int, nargs="+", default=None, help="probe: hidden-state indices (default: 4 depths)")
    parser.add_argument("--name", default=None, help="run name prefix (default rm, or probe)")
    parser.add_argument("--seed", type=int, default=0, help="split and head initialisation seed")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per dialogue+answer (cut from the left)")
    parser.add_argument("--train-top-layers", type=int, default=4, help="train the top N blocks + head (0 = all blocks)")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--time-budget", type=float, default=None, help="stop training after this many seconds")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--grad-accum", type=int, default=2)
    parser.add_argument("--warmup-steps", type=int, default=10)
    parser.add_argument("--eval-steps", type=int, default=50, help="validation every N steps (0 = none)")
    parser.add_argument("--val-max", type=int, default=None, help="validation pairs (default 32 for head, all for probe)")
    parser.add_argument("--train-limit", type=int, default=None, help="train on the first N train pairs only")
    parser.add_argument("--test-limit", type=int, default=None, help="evaluate on the first N test pairs only")
    parser.add_argument("--threads", type=int, default=1)
    add_device_argument(parser)
    parser.add_argument("--out", default=None, help="run folder (default $HEARTH_HOME/finetune/reward/NAME-STAMP)")
    parser.add_argument("--tables", default="out", help="folder for reward_model.json/.md")
    args = parser.parse_args(argv)
    settings = RewardSettings(data=args.data, base=args.base, method=args.method, layers=args.layers,
                              name=args.name or ("probe" if args.method == "probe" else "rm"), seed=args.seed, max_length=args.max_length,
                              train_top_layers=args.train_top_layers or None, learning_rate=args.lr, epochs=args.epochs,
                              max_steps=args.max_steps, time_budget_s=args.time_budget, batch_size=args.batch_size,
                              grad_accum=args.grad_accum, warmup_steps=args.warmup_steps, eval_steps=args.eval_steps, val_max=args.val_max,
                              train_limit=args.train_limit, test_limit=args.test_limit, threads=args.threads, device=args.device,
                              out=args.out)
    summary = run_reward_model(settings)
    table = write_tables(summary, args.tables)
    print(table.read_text(encoding="utf-8"))
    print(json.dumps({k: summary[k] for k in ("run_folder", "weights", "mlflow_run_id", "metrics")}, indent=2))
    return summary


if __name__ == "__main__":
    sys.exit(run_command(main))
