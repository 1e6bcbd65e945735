"""Train a cross-encoder reranker from labelled (query, document) pairs, starting from the bundled
MiniLM weights, with hard negatives from the project's own first stage.

    python -m training.reranker --data ../shared/data/cranfield --split dev --out out/rerankers/cranfield
    HEARTH_RERANKER=cross-encoder:out/rerankers/cranfield python -m apps.ask ...   # any RAG graph then uses it
    python -m evals.retrieval --data ../shared/data/cranfield --split dev --reranker cross-encoder:out/rerankers/cranfield

`--data` takes a BEIR folder (graded qrels), a JSONL of {"query", "positive"[, "negative"]} lines, or
plain documents (pairs mined from them): see `training.retrieval_pairs`. A bi-encoder reads query
and document apart; a cross-encoder reads them together, so each word of the query can attend to
each word of the document. all-MiniLM-L6-v2 was trained as a bi-encoder; its transformer is kept,
and a fresh one-output head on the [CLS] vector learns to score the pair.

Each step takes a few queries, and for each a group: its judged documents (grade > 0) and hard
negatives (documents BM25 + dense rank high that are not judged relevant). The loss is the sum of
- a listwise softmax cross-entropy whose target spreads over the group in proportion to 2^grade - 1
  (ListNet, Cao et al. 2007): a grade-4 document should outrank a grade-1 one, not only a negative;
- a pointwise binary cross-entropy towards grade / max grade (negatives 0), which keeps the scores
  on one scale across queries.
Training stops after `--epochs`, `--max-steps` or `--max-minutes`, whichever comes first.

The output folder loads with sentence-transformers' `CrossEncoder` and with `rag.rerank`
(`cross-encoder:FOLDER`); `reranker.json` records the settings, the data's fingerprint, the query
ids it was trained on, the loss curve and the time; `loss.png` draws the curve; the run is logged to
MLflow (a local store, `$HEARTH_HOME/mlflow` by default: `mlflow ui --backend-store-uri sqlite:///.hearth/mlflow/mlflow.db`).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from tqdm import tqdm

import models  # noqa: F401  (offline switches before any hub library loads)
from training.optim_step import add_number_options, adamw_with_warmup, take_step
from training.retrieval_pairs import LabelledPairs, first_stage_retriever, load_pairs, mine_hard_negatives

REPO_ROOT = Path(__file__).resolve().parents[1]
META_FILE = "reranker.json"
Progress = Callable[[float, str], None]  # (fraction done, message)


@dataclass
class RerankerConfig:
    data: str
    split: str = "dev"
    out: str = ""                   # default out/rerankers/<data name>
    base: str = "local"             # 'local' (bundled MiniLM) or hf:FOLDER
    embeddings: str = "local"       # the first stage that mines hard negatives
    epochs: int = 3
    max_steps: int = 0              # 0 = no limit
    max_minutes: float = 15.0       # wall-clock budget for the optimisation (0 = no limit)
    queries_per_step: int = 2
    positives_per_group: int = 4
    negatives_per_group: int = 8
    negatives_mined: int = 16       # per query, sampled from the first stage's top `mining_depth`
    mining_depth: int = 50
    lr: float = 4e-5
    warmup_ratio: float = 0.1
    max_length: int = 160           # tokens of query + document
    layers: int = 0                 # keep only the first N transformer layers (0 = all): faster, a little weaker
    first_stage_weight: float = 0.0  # serving: fuse the reranker's order with the first stage's (0 = reranker only)
    seed: int = 13
    threads: int = 0                # torch threads; 0 = leave torch's default
    mlruns: str = ""                # MLflow store folder; default $HEARTH_HOME/mlflow; "off" = no logging

    def resolved_out(self) -> Path:
        if self.out:
            return Path(self.out)
        source = Path(self.data)
        return REPO_ROOT / "out" / "rerankers" / (source.stem if source.is_file() else source.name)


def base_folder(spec: str) -> str:
    """The weights folder of 'local' (the bundled MiniLM) or hf:FOLDER."""
    from models.bundled import minilm_folder

    if spec == "local":
        return str(minilm_folder())
    folder = spec.removeprefix("hf:")
    if not (Path(folder) / "config.json").is_file():
        raise ValueError(f"{folder} has no config.json: use 'local' or hf:FOLDER of a transformers/sentence-transformers model.")
    return folder


def training_groups(pairs: LabelledPairs, negatives: dict[str, list[str]]) -> list[tuple[str, list[tuple[str, int]]]]:
    """(query id, [(doc id, grade), ...]) per query that has at least one relevant document."""
    groups = []
    for qid in pairs.queries:
        judged = [(d, g) for d, g in pairs.qrels.get(qid, {}).items() if g > 0 and d in pairs.documents]
        if judged:
            groups.append((qid, judged + [(d, 0) for d in negatives.get(qid, []) if d in pairs.documents]))
    return groups


def sample_group(candidates: list[tuple[str, int]], positives: int, negatives: int, rng: random.Random):
    """Up to `positives` judged documents (higher grades more often) and `negatives` grade-0 ones."""
    judged = [c for c in candidates if c[1] > 0]
    rest = [c for c in candidates if c[1] == 0]
    chosen: list[tuple[str, int]] = []
    pool = list(judged)
    while pool and len(chosen) < positives:
        pick = rng.choices(range(len(pool)), weights=[g for _, g in pool])[0]
        chosen.append(pool.pop(pick))
    return chosen + rng.sample(rest, min(negatives, len(rest)))


def group_loss(scores, grades, max_grade: int):
    """ListNet cross-entropy towards the group's gains (2^grade - 1, normalised to sum 1) plus
    pointwise BCE towards grade / max_grade.

    >>> import torch
    >>> right = group_loss(torch.tensor([5.0, -5.0]), torch.tensor([2.0, 0.0]), max_grade=2)
    >>> wrong = group_loss(torch.tensor([-5.0, 5.0]), torch.tensor([2.0, 0.0]), max_grade=2)
    >>> round(right.item(), 3), round(wrong.item(), 1)
    (0.007, 15.0)
    """
    import torch
    import torch.nn.functional as F

    gains = torch.pow(2.0, grades) - 1
    target = gains / gains.sum().clamp(min=1e-9)
    listwise = -(target * F.log_softmax(scores, dim=0)).sum()
    pointwise = F.binary_cross_entropy_with_logits(scores, grades / max_grade)
    return listwise + pointwise


def train_reranker(config: RerankerConfig, pairs: LabelledPairs | None = None, first_stage=None,
                   progress: Progress | None = None, show_bar: bool = True) -> Path:
    """Train and save a cross-encoder; returns its folder. `pairs` and `first_stage` (a retriever
    whose hits carry doc ids as `source`) default to those built from `config.data`."""
    import torch

    started = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    report = progress or (lambda fraction, message: None)

    report(0.0, "reading pairs")
    pairs = pairs if pairs is not None else load_pairs(config.data, config.split)
    report(0.02, "mining hard negatives")
    first_stage = first_stage if first_stage is not None else first_stage_retriever(pairs.documents, config.embeddings)
    negatives = mine_hard_negatives(pairs, first_stage, per_query=config.negatives_mined, depth=config.mining_depth,
                                    seed=config.seed)
    groups = training_groups(pairs, negatives)
    if not groups:
        raise ValueError(f"No query in {config.data} has a relevant document to learn from.")
    mining_seconds = time.perf_counter() - started

    folder = base_folder(config.base)
    model, tokenizer = one_logit_encoder(folder)
    if config.layers:
        _keep_layers(model, config.layers)
    model.train()

    steps_per_epoch = math.ceil(len(groups) / config.queries_per_step)
    total = steps_per_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    optimizer, schedule = adamw_with_warmup(model, config.lr, total, config.warmup_ratio)
    max_grade = pairs.max_grade()
    losses: list[float] = []
    budget = config.max_minutes * 60 if config.max_minutes else math.inf
    train_started = time.perf_counter()
    bar = tqdm(total=total, desc="training reranker", unit="step", file=sys.stderr, disable=not show_bar)
    stopped_by = "max steps" if config.max_steps and total == config.max_steps else "epochs"
    while len(losses) < total and stopped_by != "time budget":
        order = list(groups)
        rng.shuffle(order)
        for first in range(0, len(order), config.queries_per_step):
            if len(losses) >= total:
                break
            if time.perf_counter() - train_started > budget:
                stopped_by = "time budget"
                break
            loss = 0.0
            for qid, candidates in order[first:first + config.queries_per_step]:
                group = sample_group(candidates, config.positives_per_group, config.negatives_per_group, rng)
                features = tokenizer([pairs.queries[qid]] * len(group), [pairs.documents[d] for d, _ in group],
                                     truncation="only_second", max_length=config.max_length, padding=True,
                                     return_tensors="pt")
                scores = model(**features).logits.squeeze(-1)
                grades = torch.tensor([float(g) for _, g in group])
                loss = loss + group_loss(scores, grades, max_grade)
            take_step(loss, model, optimizer, schedule, losses=losses, bar=bar, report=report, total=total)
    bar.close()
    train_seconds = time.perf_counter() - train_started

    out = config.resolved_out()
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    meta = {"config": asdict(config), "base_folder": folder, "data_source": pairs.source,
            "data_fingerprint": pairs.fingerprint(), "trained_query_ids": sorted(q for q, _ in groups),
            "groups": len(groups), "steps": len(losses), "stopped_by": stopped_by,
            "mining_seconds": round(mining_seconds, 1), "train_seconds": round(train_seconds, 1),
            "seconds": round(time.perf_counter() - started, 1), "max_length": config.max_length,
            "first_stage_weight": config.first_stage_weight, "losses": [round(x, 4) for x in losses]}
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    plot_losses(losses, out / "loss.png", "cross-encoder reranker")
    log_mlflow_run(config.mlruns, "reranker", meta, out, artifacts=[out / "loss.png", out / META_FILE])
    report(1.0, f"saved to {out}")
    return out


def one_logit_encoder(folder: str):
    """(model, tokenizer): the encoder in `folder` with a new one-output scoring layer, read offline."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # the new scoring layer is "missing from the checkpoint": by design
    try:
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1, local_files_only=True)
    finally:
        transformers_logging.set_verbosity(verbosity)
    return model, tokenizer


def _keep_layers(model, layers: int) -> None:
    encoder = model.base_model.encoder
    if not 1 <= layers <= len(encoder.layer):
        raise ValueError(f"layers={layers}: the base model has {len(encoder.layer)} transformer layers; pass 1..{len(encoder.layer)}.")
    encoder.layer = encoder.layer[:layers]
    model.config.num_hidden_layers = layers


def plot_losses(losses: list[float], path: Path, title: str) -> None:
    """The training loss per step and its running mean, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(range(1, len(losses) + 1), losses, alpha=0.35, label="per step")
    window = max(1, len(losses) // 20)
    smooth = [sum(losses[max(0, i - window + 1):i + 1]) / len(losses[max(0, i - window + 1):i + 1])
              for i in range(len(losses))]
    ax.plot(range(1, len(losses) + 1), smooth, label=f"mean of last {window}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"{title}: training loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def log_mlflow_run(mlruns: str, experiment: str, meta: dict, folder: Path, artifacts: list[Path]) -> str | None:
    """One MLflow run (`training.tracking`): settings as params, loss per step and times as metrics,
    the loss plot and the metadata as artifacts, in the project's store or the `mlruns` folder's own.
    Returns the run id (None when `mlruns` is "off").
    Browse with `mlflow ui --backend-store-uri sqlite:///.hearth/mlflow/mlflow.db`."""
    if mlruns == "off":
        return None
    import os

    from training.tracking import LiveRun

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    params = {**{k: v for k, v in meta["config"].items() if v not in ("", None)},
              "data_fingerprint": meta["data_fingerprint"], "data_source": meta["data_source"], "output": str(folder)}
    run = LiveRun(f"hearth-{experiment}", folder.name, params=params, store=mlruns or None)
    for step, value in enumerate(meta["losses"], start=1):
        run.log_metric("loss", value, step)
    for key in ("steps", "train_seconds", "seconds"):
        run.log_metric(key, meta[key], 0)
    for path in artifacts:
        run.client.log_artifact(run.run_id, str(path))
    run.finish()
    return run.run_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.reranker", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="BEIR folder, pairs JSONL, or documents to mine pairs from")
    parser.add_argument("--split", default=RerankerConfig.split)
    parser.add_argument("--out", default="", help="output folder (default out/rerankers/<data name>)")
    for name in ("base", "embeddings", "mlruns"):
        parser.add_argument("--" + name, default=getattr(RerankerConfig, name))
    add_number_options(parser, RerankerConfig, floats=("max_minutes", "lr", "first_stage_weight"),
                       ints=("epochs", "max_steps", "queries_per_step", "positives_per_group", "negatives_per_group",
                             "negatives_mined", "mining_depth", "max_length", "layers", "seed", "threads"))
    config = RerankerConfig(**vars(parser.parse_args(argv)))
    try:
        out = train_reranker(config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    meta = json.loads((out / META_FILE).read_text())
    print(f"Reranker saved to {out} ({meta['steps']} steps, {meta['seconds']:.0f} s, stopped by {meta['stopped_by']}). "
          f"Use it with HEARTH_RERANKER=cross-encoder:{out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
