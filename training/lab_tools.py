"""Lab tools for agents: train tokenizers and language models, compare, evaluate, sample.

    from training.lab_tools import LAB_TOOLS, train_bpe_tokenizer, job_status
    started = train_bpe_tokenizer.invoke({"corpus": "legal", "vocab_size": 2000})   # {"job_id": ..., "state": "queued"}
    job_status.invoke({"job_id": started["job_id"]})                                # progress, then the result
    compare_tokenizers.invoke({"text_or_corpus": "legal", "tokenizer_path": ".../legal-bpe-2000.model"})

Long work (`train_bpe_tokenizer`, `pretrain_minigpt`) runs as a background job (tools.jobs) and
returns a job id at once; `job_status` reports progress and, when done, the result. The rest
answer directly. Every tool has a pydantic argument schema: the JSON schema a model sees (and
that constrained decoding enforces) carries the allowed corpora and numeric ranges, and a bad
value comes back as an error message that says what to pass instead.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Literal, Optional

from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from tools import jobs

Corpus = Literal["legal", "alice", "xquad_en", "xquad_de", "pubmedqa"]
CORPUS_DESCRIPTIONS = {"legal": "three US court opinions", "alice": "Alice's Adventures in Wonderland",
                       "xquad_en": "XQuAD English Wikipedia paragraphs", "xquad_de": "XQuAD German paragraphs",
                       "pubmedqa": "PubMedQA biomedical abstracts"}
TOKENIZER_CHOICES = ("ours-bpe", "sentencepiece", "bert-wordpiece", "smollm2", "cl100k_base", "o200k_base")
MIN_VOCAB, MAX_VOCAB = 257, 32768
COMPARE_DEFAULT_CHARS = 200_000


def lab_home() -> Path:
    """Where lab outputs (tokenizers, checkpoints) go: $HEARTH_HOME/labs (default .hearth/labs)."""
    from models.settings import data_home

    return data_home() / "labs"


def allowed_folders() -> list[Path]:
    """Folders whose files the lab tools may read: the lab home, the project's out/ (where
    `python -m training.minigpt.train` writes) and any in $HEARTH_LAB_PATHS (os.pathsep-separated)."""
    from models.settings import PROJECT_ROOT

    extra = [Path(p).expanduser() for p in os.environ.get("HEARTH_LAB_PATHS", "").split(os.pathsep) if p.strip()]
    from models.settings import data_home

    return [folder.resolve() for folder in (lab_home(), data_home() / "finetune", PROJECT_ROOT / "out", *extra)]


def check_allowed_path(path: str, what: str) -> str:
    """`path` if it lies inside an allowed folder (after resolving `..` and links), else ValueError.
    A model picks these paths, and a checkpoint or tokenizer file is code-adjacent data: the
    tools read only what the labs wrote or what the user allowed."""
    resolved = Path(path).expanduser().resolve()
    folders = allowed_folders()
    if not any(resolved.is_relative_to(folder) for folder in folders):
        raise ValueError(f"The {what} {path!r} is outside the folders lab tools may read "
                         f"({', '.join(map(str, folders))}). Use a path from a finished lab job, or add its folder "
                         "to HEARTH_LAB_PATHS.")
    return path


def _corpus_error(value: str) -> str:
    return (f"Unknown corpus {value!r}: use one of " + ", ".join(f"{k} ({v})" for k, v in CORPUS_DESCRIPTIONS.items()) + ".")


class _Args(BaseModel):
    @field_validator("corpus", mode="before", check_fields=False)
    @classmethod
    def _known_corpus(cls, value):
        if isinstance(value, str) and value.strip().lower() in CORPUS_DESCRIPTIONS:
            return value.strip().lower()
        raise ValueError(_corpus_error(value))


class TrainBPEArgs(_Args):
    corpus: Corpus = Field(description="Training corpus name.")
    vocab_size: int = Field(description=f"Tokens in the vocabulary, {MIN_VOCAB}..{MAX_VOCAB} (256 bytes + merges).",
                            json_schema_extra={"minimum": MIN_VOCAB, "maximum": MAX_VOCAB})
    max_chars: Optional[int] = Field(default=None, description="Train on the first N characters only (faster).")

    @field_validator("vocab_size")
    @classmethod
    def _vocab_range(cls, value: int) -> int:
        if not MIN_VOCAB <= value <= MAX_VOCAB:
            raise ValueError(f"vocab_size={value} is out of range: pass {MIN_VOCAB}..{MAX_VOCAB} (a byte-level BPE "
                             "has 256 byte tokens plus at least one merge), e.g. vocab_size=2000.")
        return value


class CompareArgs(BaseModel):
    text_or_corpus: str = Field(description="A corpus name (legal, alice, xquad_en, xquad_de, pubmedqa) or the text itself.")
    tokenizer_path: Optional[str] = Field(default=None, description="Our trained BPE (.model file, from "
                                          "train_bpe_tokenizer's result); empty = the default legal BPE.")
    names: Optional[list[Literal[TOKENIZER_CHOICES]]] = Field(  # type: ignore[valid-type]
        default=None, description="Tokenizers to compare; cl100k_base = GPT-4, o200k_base = GPT-4o. "
                                  "Default: ours-bpe and cl100k_base.")
    max_chars: int = Field(default=COMPARE_DEFAULT_CHARS, description="Characters of a corpus to tokenize.")


class NGramArgs(_Args):
    corpus: Corpus = Field(description="Training corpus name.")
    order: int = Field(default=4, description="n of the character n-gram, 1..8.", json_schema_extra={"minimum": 1, "maximum": 8})
    k: float = Field(default=0.1, description="Add-k smoothing constant (> 0; 1 = Laplace).")
    max_chars: Optional[int] = Field(default=None, description="Read only the first N characters.")
    sample_chars: int = Field(default=200, description="Characters to generate as a sample.")
    seed: int = Field(default=0, description="Sampling seed.")

    @field_validator("order")
    @classmethod
    def _order_range(cls, value: int) -> int:
        if not 1 <= value <= 8:
            raise ValueError(f"order={value} is out of range: pass 1..8 (4 is a good start).")
        return value


class PretrainArgs(_Args):
    corpus: Corpus = Field(description="Training corpus name.")
    steps: int = Field(default=200, description="Optimizer steps, 1..5000.", json_schema_extra={"minimum": 1, "maximum": 5000})
    position: Literal["rope", "alibi", "sinusoidal", "learned"] = Field(default="rope", description="Position encoding.")
    n_layer: int = Field(default=2, description="Transformer blocks, 1..8.")
    n_embd: int = Field(default=64, description="Model width (divisible by 4), 16..512.")
    block_size: int = Field(default=64, description="Training context length in characters, 8..1024.")
    max_chars: Optional[int] = Field(default=200_000, description="Train on the first N characters.")

    @field_validator("steps")
    @classmethod
    def _steps_range(cls, value: int) -> int:
        if not 1 <= value <= 5000:
            raise ValueError(f"steps={value} is out of range: pass 1..5000 (200 takes about a minute on a CPU).")
        return value

    @field_validator("n_embd")
    @classmethod
    def _width(cls, value: int) -> int:
        if not 16 <= value <= 512 or value % 4:
            raise ValueError(f"n_embd={value} must be 16..512 and divisible by 4 (the 4 attention heads), e.g. 64.")
        return value

    @field_validator("n_layer")
    @classmethod
    def _layers(cls, value: int) -> int:
        if not 1 <= value <= 8:
            raise ValueError(f"n_layer={value} is out of range: pass 1..8, e.g. 2.")
        return value

    @field_validator("block_size")
    @classmethod
    def _block(cls, value: int) -> int:
        if not 8 <= value <= 1024:
            raise ValueError(f"block_size={value} is out of range: pass 8..1024, e.g. 64.")
        return value


class CheckpointArgs(BaseModel):
    checkpoint: str = Field(description="A mini-GPT checkpoint folder or ckpt.pt, or the job id of a finished pretrain_minigpt job.")


class PerplexityArgs(CheckpointArgs):
    corpus: Optional[Corpus] = Field(default=None, description="Evaluate on this corpus's held-out 10%; default: the training corpus.")
    context_length: Optional[int] = Field(default=None, description="Evaluation window; default the training length.")
    max_windows: int = Field(default=64, description="Windows to evaluate (more = slower, more exact).")

    @field_validator("corpus", mode="before")
    @classmethod
    def _known_corpus(cls, value):
        if value is None or (isinstance(value, str) and value.strip().lower() in CORPUS_DESCRIPTIONS):
            return value.strip().lower() if isinstance(value, str) else value
        raise ValueError(_corpus_error(value))


class SampleArgs(CheckpointArgs):
    prompt: str = Field(default="", description="Text to continue.")
    tokens: int = Field(default=200, description="Tokens (characters) to generate, 1..2000.")
    temperature: float = Field(default=0.8, description="0 = greedy; higher = more random.")
    top_k: Optional[int] = Field(default=20, description="Sample only from the k most likely tokens.")
    seed: int = Field(default=0)


class RetrievalTrainingArgs(BaseModel):
    data: str = Field(description="Labelled pairs: a BEIR folder (corpus.jsonl, queries, qrels/), a JSONL of "
                                  '{"query", "positive"[, "negative"]} lines, or a folder of documents to mine pairs from.')
    split: str = Field(default="dev", description="The qrels split of a BEIR folder.")
    max_minutes: float = Field(default=10.0, description="Training time budget in minutes, 0.1..60.")
    name: Optional[str] = Field(default=None, description="Output name (default: the data folder's name).")

    @field_validator("data")
    @classmethod
    def _exists(cls, value: str) -> str:
        if not Path(value).exists():
            raise ValueError(f"No data at {value!r}: pass a BEIR folder, a pairs .jsonl file or a folder of documents.")
        return value

    @field_validator("max_minutes")
    @classmethod
    def _budget(cls, value: float) -> float:
        return _minutes_between(value, 0.1, 60, " (10 trains a useful model on a CPU)")


def _minutes_between(value: float, low: float, high: float, hint: str = "") -> float:
    if not low <= value <= high:
        raise ValueError(f"max_minutes={value} is out of range: pass {low:g}..{high:g}{hint}.")
    return value


class FinetuneArgs(BaseModel):
    task: Literal["sql", "tools", "grounded"] = Field(default="sql", description=(
        "What the model is tuned for: 'sql' (question -> SQL over a given schema), 'tools' (home requests -> tool calls), "
        "'grounded' (numbered facts + question -> a short answer citing [n], or 'The facts do not answer that question.')."))
    database: Optional[str] = Field(default=None, description="sql: a SQLite file: add (question, SQL) pairs generated from its "
                                                              "schema, keys and values and verified by execution.")
    documents: Optional[str] = Field(default=None, description="grounded: a folder of .md/.txt documents to add cloze "
                                                               "questions from (not the sample handbook, a test set).")
    data: Optional[str] = Field(default=None, description="A prompt/completion JSONL to train on instead of building one "
                                                          "(from `python -m training.sql_data`).")
    method: Literal["full", "lora"] = Field(default="full", description="Full fine-tuning (best on 2 cores for 135M) or LoRA.")
    max_minutes: float = Field(default=20.0, description="Training time budget in minutes, 0.5..120.")
    name: str = Field(default="sql", description="Run name prefix.")

    @field_validator("database", "data")
    @classmethod
    def _file_exists(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"No file at {value!r}: pass an existing SQLite database or JSONL file.")
        return value

    @field_validator("documents")
    @classmethod
    def _folder_exists(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not Path(value).is_dir():
            raise ValueError(f"No folder at {value!r}: pass a folder of .md or .txt documents.")
        return value

    @field_validator("max_minutes")
    @classmethod
    def _budget(cls, value: float) -> float:
        return _minutes_between(value, 0.5, 120, " (40 minutes is one useful SQL run on 2 cores)")


class RunArgs(BaseModel):
    run: str = Field(description="A fine-tuning run folder (the `run_folder` a finetune_model job returned).")

    @field_validator("run")
    @classmethod
    def _is_run(cls, value: str) -> str:
        check_allowed_path(value, "run folder")
        if not (Path(value) / "run.json").is_file():
            raise ValueError(f"{value!r} is not a fine-tuning run folder (no run.json): pass the run_folder of a "
                             "finished finetune_model job.")
        return value


class ExportArgs(RunArgs):
    levels: list[Literal["F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0"]] = Field(
        default=["Q8_0"], description="llama.cpp quantization levels to write (F16 is always converted first).")
    register_as: Optional[str] = Field(default=None, description="Register the export in the model registry under this "
                                                                 "name and point its 'production' alias at it.")


class QuantizeArgs(RunArgs):
    level: Literal["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0"] = Field(description="The llama.cpp quantization level.")


class EvaluateArgs(BaseModel):
    model: str = Field(description="A model spec (registry:NAME@ALIAS, gguf:PATH, hf:PATH, local) or a run folder.")
    run: Optional[str] = Field(default=None, description="The run whose held-out validation rows to answer "
                                                         "(default: the run given as `model`).")
    limit: int = Field(default=24, description="Rows to answer, 1..200.")

    @field_validator("limit")
    @classmethod
    def _limit(cls, value: int) -> int:
        if not 1 <= value <= 200:
            raise ValueError(f"limit={value} is out of range: pass 1..200.")
        return value


class RewardModelArgs(BaseModel):
    method: Literal["probe", "head"] = Field(
        default="probe", description="probe: a linear probe on the frozen model's layers, fitted on every train pair "
                                     "(about 12 minutes on 2 cores the first time, seconds after; max_minutes does not "
                                     "apply); head: TRL RewardTrainer on a one-logit head for max_minutes.")
    max_minutes: float = Field(default=15.0, description="Training time budget in minutes (head), 0.5..120.")
    test_limit: int = Field(default=200, description="Held-out test pairs to score (of 462), 10..462.")

    @field_validator("max_minutes")
    @classmethod
    def _budget(cls, value: float) -> float:
        return _minutes_between(value, 0.5, 120)

    @field_validator("test_limit")
    @classmethod
    def _test(cls, value: int) -> int:
        if not 10 <= value <= 462:
            raise ValueError(f"test_limit={value} is out of range: pass 10..462 (the test part has 462 pairs).")
        return value


class DPOArgs(BaseModel):
    reward_model: Optional[str] = Field(default=None, description="A reward-model run folder (from train_reward_model) "
                                                                  "to judge DPO against the start model.")
    base: str = Field(default="bundled", description="'bundled' or a fine-tuning run folder to start from.")
    max_minutes: float = Field(default=10.0, description="Training time budget in minutes, 0.5..120.")
    pairs: Literal["dataset", "on-policy"] = Field(
        default="dataset", description="dataset: HH-RLHF's answers; on-policy: two of the model's own answers to each "
                                       "of 200 train prompts, ranked by reward_model (needs reward_model).")
    refusal_pairs: Literal["keep", "drop", "drop-chosen"] = Field(
        default="keep", description="on-policy: 'drop' leaves out the pairs in which the reward model prefers a refusal "
                                    "to an answer, 'drop-chosen' every pair whose preferred answer refuses (keeps the "
                                    "model from learning to refuse safe requests).")
    safe_prompts: bool = Field(default=False, description="on-policy: also sample 77 safe requests that sound unsafe, on "
                                                          "which an answer always beats a refusal.")

    @model_validator(mode="after")
    def _judge_for_on_policy(self):
        if self.pairs == "on-policy" and not self.reward_model:
            raise ValueError("pairs='on-policy' ranks the model's own answers with a reward model: pass reward_model "
                             "(the run_folder train_reward_model returned).")
        return self

    @field_validator("reward_model", "base")
    @classmethod
    def _folder(cls, value: Optional[str]) -> Optional[str]:
        if value in (None, "bundled"):
            return value
        check_allowed_path(value, "run folder")
        if not Path(value).is_dir():
            raise ValueError(f"No run folder at {value!r}: pass the run_folder a finished lab job returned.")
        return value

    @field_validator("max_minutes")
    @classmethod
    def _budget(cls, value: float) -> float:
        return _minutes_between(value, 0.5, 120)


class MergeArgs(BaseModel):
    method: Literal["linear", "ties", "task_arithmetic", "slerp"] = Field(description="mergekit's merge method.")
    models: list[str] = Field(description="Two or more fine-tuning run folders (or transformers folders) of the same base.")

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str]) -> list[str]:
        if len(value) < 2:
            raise ValueError("Pass at least two models to merge.")
        for folder in value:
            check_allowed_path(folder, "model folder")
            if not Path(folder).is_dir():
                raise ValueError(f"No model folder at {folder!r}: pass run folders from finished finetune_model jobs.")
        return value


class JobArgs(BaseModel):
    job_id: str = Field(description="The id returned by a background tool (train_bpe_tokenizer, pretrain_minigpt, "
                                    "train_reranker, finetune_embeddings, finetune_model, export_model, quantize_model, evaluate_model).")


# ---- the work itself (plain functions; the tools below validate and wrap them) ----------------

def run_bpe_training(progress, corpus: str, vocab_size: int, max_chars: int | None = None) -> dict:
    from training.corpora import load_corpus
    from training.tokenizers.bpe import train_bpe

    progress(0.0, f"reading {corpus}")
    text = load_corpus(corpus, max_chars=max_chars)
    started = time.perf_counter()

    def merge_progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            progress(done / max(1, total), f"merge {done}/{total}")

    tokenizer = train_bpe(text, vocab_size, progress=merge_progress)
    prefix = lab_home() / "tokenizers" / (f"{corpus}-bpe-{vocab_size}" + (f"-first{max_chars}" if max_chars else ""))
    model_path, vocab_path = tokenizer.save(prefix)
    return {"tokenizer_path": str(model_path), "vocab_path": str(vocab_path), "corpus": corpus,
            "vocab_size": tokenizer.vocab_size, "merges": len(tokenizer.merges), "training_chars": len(text),
            "seconds": round(time.perf_counter() - started, 2)}


def run_comparison(text_or_corpus: str, tokenizer_path: str | None = None, names: list[str] | None = None,
                   max_chars: int = COMPARE_DEFAULT_CHARS) -> dict:
    from dataclasses import asdict

    import models  # noqa: F401  (TIKTOKEN_CACHE_DIR: GPT-4's tokenizer files ship with llama-index)
    from training.corpora import load_corpus
    from training.tokenizers.compare import compare_tokenizers as compare

    key = text_or_corpus.strip().lower()
    is_corpus = key in CORPUS_DESCRIPTIONS
    text = load_corpus(key, max_chars=max_chars) if is_corpus else text_or_corpus
    if not text.strip():
        raise ValueError("Nothing to tokenize: pass a corpus name (e.g. 'legal') or a non-empty text.")
    if tokenizer_path:
        check_allowed_path(tokenizer_path, "tokenizer_path")
    if tokenizer_path and not Path(tokenizer_path).exists() and not Path(f"{tokenizer_path}.model").exists():
        raise ValueError(f"No tokenizer at {tokenizer_path!r}: pass the tokenizer_path from a finished "
                         "train_bpe_tokenizer job (job_status shows it), or leave it empty for the default BPE.")
    names = list(dict.fromkeys(names or ["ours-bpe", "cl100k_base"]))
    rows = [asdict(r) for r in compare(text, names, bpe_path=tokenizer_path)]
    for row in rows:
        row["tokens_per_word"] = round(row["tokens_per_word"], 3)
        row["chars_per_token"] = round(row["chars_per_token"], 3)
    return {"text": key if is_corpus else f"{len(text)} characters of text", "characters": len(text),
            "tokenizer_path": tokenizer_path, "rows": rows}


def run_ngram(corpus: str, order: int = 4, k: float = 0.1, max_chars: int | None = None, sample_chars: int = 200,
              seed: int = 0) -> dict:
    from training.corpora import load_corpus
    from training.ngram import NGramModel, train_test_split

    train_text, test_text = train_test_split(load_corpus(corpus, max_chars=max_chars))
    lm = NGramModel(order=order, k=k).fit(train_text)
    return {**lm.summary(), "corpus": corpus, "train_chars": len(train_text),
            "held_out_perplexity": round(lm.perplexity(test_text), 3), "sample": lm.generate(sample_chars, seed=seed)}


def run_pretraining(progress, corpus: str, steps: int = 200, position: str = "rope", n_layer: int = 2, n_embd: int = 64,
                    block_size: int = 64, max_chars: int | None = 200_000) -> dict:
    from training.minigpt.train import TrainConfig, train

    out_dir = lab_home() / "minigpt" / f"{corpus}-{position}-L{n_layer}-d{n_embd}-T{block_size}"
    config = TrainConfig(data=corpus, max_chars=max_chars, position=position, n_layer=n_layer, n_embd=n_embd,
                         block_size=block_size, steps=steps, eval_interval=max(1, steps // 5),
                         checkpoint_interval=max(1, steps // 5), warmup_steps=min(20, max(1, steps // 5)),
                         out_dir=str(out_dir), mlruns=str(lab_home() / "mlruns"))
    return train(config, progress=progress)


def resolve_checkpoint(checkpoint: str) -> str:
    """A checkpoint path, or the checkpoint of a finished pretrain_minigpt job."""
    try:
        job = jobs.status(checkpoint)
    except KeyError:
        return check_allowed_path(checkpoint, "checkpoint")
    if job["state"] != "done":
        raise ValueError(f"Job {checkpoint} is {job['state']} ({job['message']}); wait until job_status says done.")
    if not isinstance(job["result"], dict) or "checkpoint" not in job["result"]:
        raise ValueError(f"Job {checkpoint} did not produce a mini-GPT checkpoint; pass a pretrain_minigpt job id.")
    return check_allowed_path(job["result"]["checkpoint"], "checkpoint")


def run_perplexity(checkpoint: str, corpus: str | None = None, context_length: int | None = None, max_windows: int = 64) -> dict:
    from training.corpora import load_corpus
    from training.minigpt.data import split_ids
    from training.minigpt.train import evaluate_perplexity as evaluate, load_model

    model, tokenizer, ckpt = load_model(resolve_checkpoint(checkpoint))
    config = ckpt["train_config"]
    corpus = corpus or config["data"]
    _, val = split_ids(tokenizer.encode(load_corpus(corpus, max_chars=config["max_chars"])))
    length = context_length or config["block_size"]
    return {"checkpoint": checkpoint, "corpus": corpus, "context_length": length, "trained_on": config["data"],
            "perplexity": round(evaluate(model, val, length, max_windows=max_windows), 3)}


def run_sampling(checkpoint: str, prompt: str = "", tokens: int = 200, temperature: float = 0.8, top_k: int | None = 20,
                 seed: int = 0) -> dict:
    from training.minigpt.sample import sample_text as sample

    if not 1 <= tokens <= 2000:
        raise ValueError(f"tokens={tokens} is out of range: pass 1..2000.")
    text = sample(resolve_checkpoint(checkpoint), prompt, tokens, temperature=temperature, top_k=top_k, seed=seed)
    return {"checkpoint": checkpoint, "prompt": prompt, "text": text}


def run_reranker_training(progress, data: str, split: str = "dev", max_minutes: float = 10.0,
                          name: str | None = None) -> dict:
    import json

    from training.reranker import META_FILE, RerankerConfig, train_reranker

    out = lab_home() / "rerankers" / (name or Path(data).stem)
    folder = train_reranker(RerankerConfig(data=data, split=split, out=str(out), max_minutes=max_minutes),
                            progress=progress, show_bar=False)
    meta = json.loads((folder / META_FILE).read_text())
    return {"reranker_folder": str(folder), "use_with": f"HEARTH_RERANKER=cross-encoder:{folder}",
            "steps": meta["steps"], "seconds": meta["seconds"], "final_loss": meta["losses"][-1] if meta["losses"] else None,
            "loss_plot": str(folder / "loss.png")}


def run_embedding_finetune(progress, data: str, split: str = "dev", max_minutes: float = 10.0,
                           name: str | None = None) -> dict:
    import json

    from training.embedding_finetune import META_FILE, FinetuneConfig, finetune_embeddings

    out = lab_home() / "embeddings" / (name or f"{Path(data).stem}-tuned")
    folder = finetune_embeddings(FinetuneConfig(data=data, split=split, out=str(out), max_minutes=max_minutes),
                                 progress=progress, show_bar=False)
    meta = json.loads((folder / META_FILE).read_text())
    return {"embeddings_folder": str(folder), "embeddings_spec": f"hf:{folder}",
            "reindex": f"python -m training.embedding_finetune reindex --collection NAME --embeddings hf:{folder}",
            "steps": meta["steps"], "seconds": meta["seconds"], "loss_plot": str(folder / "loss.png")}


def _lab_threads() -> int:
    """Torch threads for a lab training job: the machine's cores, at most 2 (measured best for the 135M model)."""
    return max(1, min(2, os.cpu_count() or 1))


# Per task: the settings of the README's measured runs (SQL, home tool calls, grounded answers).
_TASK_SETTINGS = {
    "sql": dict(batch_size=4, val_max=16, eval_steps=30, patience=0),
    "tools": dict(batch_size=8, epochs=2.0, max_length=2048, shared_prefix=True, val_max=12, eval_steps=15, patience=3,
                  warmup_steps=4),
    "grounded": dict(batch_size=8, epochs=2.0, max_length=512, gradient_checkpointing=False, eval_steps=20),
}


def run_finetune(progress, task: str = "sql", database: str | None = None, data: str | None = None,
                 method: str = "full", max_minutes: float = 20.0, name: str = "sql", documents: str | None = None) -> dict:
    """Build the task's training set (unless `data` is given) and fine-tune the bundled model on it."""
    from training.sft import SFTSettings, run_sft

    if task not in _TASK_SETTINGS:
        raise ValueError(f"task {task!r}: use one of {', '.join(_TASK_SETTINGS)}")
    if data is None:
        progress(0.0, f"building the {task} training set")
        out = lab_home() / "finetune" / f"{name}-data.jsonl"
        if task == "sql":
            from training.sql_data import build_sql_dataset

            data = build_sql_dataset(out, per_domain=15, database=database)["path"]
        elif task == "tools":
            from training.tool_data import build_tool_dataset

            data = build_tool_dataset(out, per_call=4)["path"]
        else:
            from training.grounded_data import build_grounded_dataset

            data = build_grounded_dataset(out, pubmedqa=False, documents=documents)["path"]
    settings = SFTSettings(data=str(data), name=name, method=method, time_budget_s=max_minutes * 60,
                           learning_rate=1e-4 if method == "full" else None, grad_accum=1, threads=_lab_threads(),
                           **_TASK_SETTINGS[task])
    summary = run_sft(settings, progress=progress)
    return {"run_folder": summary["run_folder"], "metrics": summary["metrics"], "data": str(data),
            "next": "export_model with this run_folder (and register_as) to quantize, register and serve it"}


def run_export(progress, run: str, levels: list[str] | None = None, register_as: str | None = None) -> dict:
    from training.export import export_run

    progress(0.05, "merging, converting to GGUF, quantizing")
    result = export_run(run, levels=("F16", *(levels or ["Q8_0"])), check=8)
    out = {"default_level": result["default_level"], "seconds": result["seconds"],
           "levels": {lv: {k: e.get(k) for k in ("path", "size_mb", "agreement", "loses_finetune")}
                      for lv, e in result["levels"].items()}}
    if register_as:
        from training.registry import register_run

        progress(0.95, "registering")
        version = register_run(run, register_as, alias="production")
        out["registered"] = version
        out["serve"] = f"python -m apps.serve --model registry:{register_as}@production"
    return out


def run_quantize(progress, run: str, level: str) -> dict:
    from training.export import quantize_gguf

    f16 = next(iter(sorted((Path(run) / "export").glob("*-F16.gguf"))), None)
    if f16 is None:
        raise FileNotFoundError(f"{run} has no F16 GGUF yet: run export_model on it first.")
    progress(0.1, f"quantizing to {level}")
    path = quantize_gguf(f16, f16.with_name(f16.name.replace("-F16.gguf", f"-{level}.gguf")), level)
    return {"path": str(path), "size_mb": round(path.stat().st_size / 1e6, 1), "spec": f"gguf:{path}"}


def run_evaluation(progress, model: str, run: str | None = None, limit: int = 24) -> dict:
    from training.export import validation_rows
    from training.task_eval import held_out_accuracy

    if run is None and (Path(model) / "run.json").is_file():
        run = model
    if run is None:
        raise ValueError("Pass `run` (a fine-tuning run folder): its held-out validation rows are what is answered.")
    if (Path(model) / "run.json").is_file():
        exported = Path(model) / "export" / "export.json"
        if not exported.is_file():
            raise FileNotFoundError(f"{model} is not exported yet: run export_model on it first, or pass a model spec.")
        import json

        export = json.loads(exported.read_text(encoding="utf-8"))
        model = f"gguf:{export['levels'][export['default_level']]['path']}"
    result = held_out_accuracy(model, validation_rows(run, limit), progress=progress)
    result["records"] = result["records"][:5]  # a sample; the counts cover every row
    return result


def run_reward_training(progress, method: str = "probe", max_minutes: float = 15.0, test_limit: int = 200) -> dict:
    from training.reward_model import RewardSettings, run_reward_model

    summary = run_reward_model(RewardSettings(method=method, name=method if method == "probe" else "rm",
                                              time_budget_s=max_minutes * 60, test_limit=test_limit, warmup_steps=0,
                                              max_length=128, threads=_lab_threads()), progress=progress)
    return {"run_folder": summary["run_folder"], "test": summary["test"]["table"], "steps": summary["metrics"]["steps"],
            "next": "run_dpo with reward_model set to this run_folder"}


def run_preference_tuning(progress, reward_model: str | None = None, base: str = "bundled", max_minutes: float = 10.0,
                          pairs: str = "dataset", refusal_pairs: str = "keep", safe_prompts: bool = False) -> dict:
    from training.dpo import DPOSettings, run_dpo

    summary = run_dpo(DPOSettings(base=base, reward_model=reward_model, pairs=pairs, refusal_pairs=refusal_pairs,
                                  safe_prompts=safe_prompts,
                                  time_budget_s=max_minutes * 60,
                                  train_limit=200 if pairs == "on-policy" else None, warmup_steps=0,
                                  threads=_lab_threads()), progress=progress)
    return {"run_folder": summary["run_folder"], "measured": summary["measured"], "steps": summary["metrics"]["steps"]}


def run_merge(progress, method: str, models: list[str]) -> dict:
    from training.merge import merge_models as merge

    progress(0.1, f"merging {len(models)} models ({method})")
    out = merge(method, models, out=lab_home() / "merged" / f"{method}-{time.strftime('%Y%m%d-%H%M%S')}")
    return {"merged_folder": str(out), "spec": f"hf:{out}"}


# ---- tools -----------------------------------------------------------------------------------

def _start_bpe(corpus: str, vocab_size: int, max_chars: int | None = None) -> dict:
    job_id = jobs.submit("train_bpe", run_bpe_training, corpus=corpus, vocab_size=vocab_size, max_chars=max_chars)
    return {"job_id": job_id, "state": "queued", "note": "Training in the background; call job_status with this job_id."}


def _start_pretraining(corpus: str, steps: int = 200, position: str = "rope", n_layer: int = 2, n_embd: int = 64,
                       block_size: int = 64, max_chars: int | None = 200_000) -> dict:
    job_id = jobs.submit("pretrain_minigpt", run_pretraining, corpus=corpus, steps=steps, position=position,
                         n_layer=n_layer, n_embd=n_embd, block_size=block_size, max_chars=max_chars)
    return {"job_id": job_id, "state": "queued", "note": "Pretraining in the background; call job_status with this job_id."}


def _start_reranker(data: str, split: str = "dev", max_minutes: float = 10.0, name: str | None = None) -> dict:
    job_id = jobs.submit("train_reranker", run_reranker_training, data=data, split=split, max_minutes=max_minutes,
                         name=name)
    return {"job_id": job_id, "state": "queued", "note": "Training in the background; call job_status with this job_id."}


def _start_embedding_finetune(data: str, split: str = "dev", max_minutes: float = 10.0, name: str | None = None) -> dict:
    job_id = jobs.submit("finetune_embeddings", run_embedding_finetune, data=data, split=split, max_minutes=max_minutes,
                         name=name)
    return {"job_id": job_id, "state": "queued", "note": "Fine-tuning in the background; call job_status with this job_id."}


def _in_background(job: str, work, doing: str):
    """A tool function that queues `work(progress, **arguments)` as job `job` and returns its id at once."""
    def start(**kwargs) -> dict:
        job_id = jobs.submit(job, work, **kwargs)
        return {"job_id": job_id, "state": "queued", "note": f"{doing} in the background; call job_status with this job_id."}

    return start


def _job_status(job_id: str) -> dict:
    try:
        job = jobs.status(job_id)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from exc
    job.pop("traceback", None)
    return job


def _validation_message(error: ValidationError) -> str:
    messages = []
    for e in error.errors():
        where = ".".join(str(p) for p in e.get("loc", ())) or "arguments"
        messages.append(f"{where}: {str(e.get('msg', '')).removeprefix('Value error, ')}")
    return "Invalid arguments. " + "; ".join(messages)


def _tool(fn, name: str, schema: type[BaseModel], description: str) -> StructuredTool:
    def run(**kwargs):
        try:
            return fn(**kwargs)
        except (ValueError, FileNotFoundError) as exc:   # CorpusError is a ValueError
            raise ToolException(str(exc)) from exc

    run.__name__, run.__doc__ = name, description
    return StructuredTool.from_function(func=run, name=name, description=description, args_schema=schema,
                                        handle_tool_error=True, handle_validation_error=_validation_message)


train_bpe_tokenizer = _tool(
    _start_bpe, "train_bpe_tokenizer", TrainBPEArgs,
    "Start training a byte-level BPE tokenizer on a corpus in the background. Returns a job_id; "
    "job_status(job_id) gives progress and, when done, tokenizer_path.")
compare_tokenizers = _tool(
    run_comparison, "compare_tokenizers", CompareArgs,
    "Tokenize a corpus or text with several tokenizers and report tokens, tokens per word, characters per token "
    "and exact round trip for each. cl100k_base is GPT-4's tokenizer, o200k_base GPT-4o's.")
train_ngram_model = _tool(
    run_ngram, "train_ngram_model", NGramArgs,
    "Train a character n-gram language model (add-k smoothing) on a corpus; returns held-out perplexity and a sample.")
pretrain_minigpt = _tool(
    _start_pretraining, "pretrain_minigpt", PretrainArgs,
    "Start pretraining a small character-level GPT on a corpus in the background. Returns a job_id; "
    "job_status(job_id) gives progress and, when done, the checkpoint and validation perplexity.")
evaluate_perplexity = _tool(
    run_perplexity, "evaluate_perplexity", PerplexityArgs,
    "Perplexity of a trained mini-GPT checkpoint on the held-out part of a corpus.")
sample_text = _tool(
    run_sampling, "sample_text", SampleArgs, "Generate text from a trained mini-GPT checkpoint.")
train_reranker = _tool(
    _start_reranker, "train_reranker", RetrievalTrainingArgs,
    "Start training a cross-encoder reranker (from the bundled MiniLM) on labelled query/document pairs in the "
    "background. Returns a job_id; job_status(job_id) gives progress and, when done, the folder to use as "
    "HEARTH_RERANKER=cross-encoder:FOLDER.")
finetune_embeddings = _tool(
    _start_embedding_finetune, "finetune_embeddings", RetrievalTrainingArgs,
    "Start fine-tuning the embedding model on labelled query/document pairs in the background. Returns a job_id; "
    "job_status(job_id) gives progress and, when done, the hf:FOLDER spec and the re-index command.")
finetune_model = _tool(
    _in_background("finetune_model", run_finetune, "Fine-tuning"), "finetune_model", FinetuneArgs,
    "Start fine-tuning the bundled model in the background for text-to-SQL (data from GeoQuery, other schemas and, with "
    "`database`, pairs generated from that database), home tool calls, or grounded answers that cite their facts and "
    "say when the facts do not answer (with `documents`, cloze questions from that folder too). Returns a job_id; when "
    "done, job_status gives the run_folder for export_model.")
export_model = _tool(
    _in_background("export_model", run_export, "Exporting"), "export_model", ExportArgs,
    "Start exporting a fine-tuning run in the background: merge, convert to GGUF, quantize to the given levels, check "
    "the GGUF against the trained model, and (with register_as) register it so registry:NAME@production serves it.")
quantize_model = _tool(
    _in_background("quantize_model", run_quantize, "Quantizing"), "quantize_model", QuantizeArgs,
    "Start quantizing an exported run's F16 GGUF to one more llama.cpp level in the background.")
evaluate_model = _tool(
    _in_background("evaluate_model", run_evaluation, "Evaluating"), "evaluate_model", EvaluateArgs,
    "Start answering a run's held-out validation rows with a model in the background; reports exact match and, for "
    "GeoQuery SQL, execution accuracy.")
train_reward_model = _tool(
    _in_background("train_reward_model", run_reward_training, "Training"), "train_reward_model", RewardModelArgs,
    "Start training a reward model on HH-RLHF harmless preference pairs in the background; reports held-out pairwise "
    "accuracy beside the length and log-likelihood baselines.")
run_dpo = _tool(
    _in_background("run_dpo", run_preference_tuning, "DPO"), "run_dpo", DPOArgs,
    "Start DPO (LoRA) on the preference pairs in the background, from the bundled model or a run; reports implicit "
    "reward accuracy, the reward model's win rate and XSTest refusals before and after.")
merge_models = _tool(
    _in_background("merge_models", run_merge, "Merging"), "merge_models", MergeArgs,
    "Start merging fine-tuned models of the same base with mergekit (linear, ties, task_arithmetic, slerp) in the "
    "background; returns the merged folder as an hf: spec.")
job_status = _tool(
    _job_status, "job_status", JobArgs,
    "State (queued, running, done, failed), progress and result of a background job.")

LAB_TOOLS: list[StructuredTool] = [train_bpe_tokenizer, compare_tokenizers, train_ngram_model, pretrain_minigpt,
                                   evaluate_perplexity, sample_text, train_reranker, finetune_embeddings, finetune_model,
                                   export_model, quantize_model, evaluate_model, train_reward_model, run_dpo,
                                   merge_models, job_status]
TOOLS_BY_NAME = {t.name: t for t in LAB_TOOLS}
# Tools that change the world: they start background jobs that write under the lab home. None is
# risky (nothing outside the lab home changes, and the job queue and time limit bound the cost),
# so none waits for confirmation; the rest only read.
LAB_CHANGES_WORLD = frozenset({"train_bpe_tokenizer", "pretrain_minigpt", "train_reranker", "finetune_embeddings",
                               "finetune_model", "export_model", "quantize_model", "train_reward_model", "run_dpo",
                               "merge_models"})
