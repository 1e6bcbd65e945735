"""The fine-tuning lifecycle on the real bundled model: a few SFT steps on a slice, merge, GGUF,
quantize, the GGUF answering like the merged model, MLflow tracking, and the registry spec."""

from __future__ import annotations

import json
import sqlite3

import pytest

pytestmark = pytest.mark.slow


def _converter_or_skip():
    from training.export import llama_cpp_tools

    try:
        return llama_cpp_tools(download=False)
    except FileNotFoundError as exc:  # needs one online `python -m training.export --fetch-converter`
        pytest.skip(str(exc))


@pytest.fixture()
def tiny_sql_data(tmp_path):
    from training.sql_data import synthesize_pairs
    from training.task_data import write_dataset

    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript("""
            CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT, city TEXT);
            INSERT INTO customer VALUES (1, 'Ada', 'Paris'), (2, 'Bo', 'Oslo'), (3, 'Cy', 'Paris');
        """)
    rows = synthesize_pairs(db, per_template=8)[:8]
    return write_dataset(rows, tmp_path / "tiny.jsonl", build="test")


def test_sft_merge_gguf_quantize_round_trip(tmp_path, tiny_sql_data):
    _converter_or_skip()
    from training.export import (agreement, convert_to_gguf, llamacpp_greedy, merge_run, quantize_gguf,
                                 transformers_greedy, write_modelfile)
    from training.sft import SFTSettings, run_sft
    from training.tracking import mlflow_client

    settings = SFTSettings(data=tiny_sql_data["path"], name="tiny", max_steps=2, batch_size=2, grad_accum=1,
                           max_length=256, val_fraction=0.25, val_max=2, eval_steps=1, patience=0, threads=1,
                           out=str(tmp_path / "run"))
    summary = run_sft(settings)
    run = tmp_path / "run"
    assert summary["metrics"]["steps"] == 2 and summary["dataset_sha256"] == tiny_sql_data["sha256"]
    assert (run / "adapter" / "adapter_config.json").is_file() and (run / "loss.png").stat().st_size > 1000
    tracked = mlflow_client().get_run(summary["mlflow_run_id"])
    assert tracked.data.params["dataset_sha256"] == tiny_sql_data["sha256"]
    assert "loss" in tracked.data.metrics or "train_loss" in tracked.data.metrics or "final_train_loss" in tracked.data.metrics

    # a run trained on another machine (a GPU box) records a base folder that is not here: the same base is used
    info = json.loads((run / "run.json").read_text())
    from training.export import run_task

    assert run_task(info) == "sql" and run_task({**info, "tasks": None}) == "sql"  # recorded, or counted in the data
    (run / "run.json").write_text(json.dumps({**info, "base_folder": "/gpu-box/hearth/finetune/base/smollm2"}))
    merged = merge_run(run)
    assert (merged / "model.safetensors").is_file() and (merged / "chat_template.jinja").is_file()
    f16 = convert_to_gguf(merged, run / "export" / "tiny-F16.gguf")
    q8 = quantize_gguf(f16, run / "export" / "tiny-Q8_0.gguf", "Q8_0")
    assert 120e6 < q8.stat().st_size < f16.stat().st_size
    prompts = [json.loads(line)["prompt"] for line in open(tiny_sql_data["path"], encoding="utf-8")][:2]
    reference = transformers_greedy(merged, prompts, max_new_tokens=12)
    answers = llamacpp_greedy(q8, prompts, max_new_tokens=12, tokenizer_folder=merged, threads=1)
    assert all(reference) and agreement(reference, answers) >= 0.5, (reference, answers)
    assert "FROM ./tiny-Q8_0.gguf" in write_modelfile(q8).read_text()

    # the adapter alone, applied by the `local?lora=` spec over the shipped base at load time
    from models import load_chat_model
    from models.llamacpp import complete_text
    from training.export import convert_lora_to_gguf

    adapter = convert_lora_to_gguf(run)
    prompt = "SELECT name FROM"
    base_scores = complete_text(load_chat_model("local?temperature=0"), prompt, max_tokens=1, logprobs=1, echo=True)
    tuned_scores = complete_text(load_chat_model(f"local?temperature=0&lora={adapter}"), prompt, max_tokens=1, logprobs=1, echo=True)
    assert base_scores["logprobs"]["token_logprobs"][1:] != tuned_scores["logprobs"]["token_logprobs"][1:]


def test_registry_spec_resolves_the_registered_gguf_and_follows_the_alias(tmp_path):
    from models import ModelSpecError
    from models.registry import model_task
    from models.spec import resolve_model_spec
    from training.registry import list_models, promote, register_run

    def fake_export(name: str, task: str) -> None:
        run = tmp_path / name
        (run / "merged").mkdir(parents=True)
        (run / "merged" / "config.json").write_text("{}")
        (run / "export").mkdir()
        gguf = run / "export" / f"{name}-Q8_0.gguf"
        gguf.write_bytes(b"GGUF")
        (run / "run.json").write_text(json.dumps({"settings": {"name": "sql"}, "dataset_sha256": "abc",
                                                  "metrics": {"train_loss": 0.5}, "tasks": {task: 9, "chat": 1}}))
        (run / "export" / "export.json").write_text(json.dumps({
            "merged": str(run / "merged"), "folder": str(run / "export"), "default_level": "Q8_0",
            "levels": {"Q8_0": {"path": str(gguf), "agreement": 1.0, "loses_finetune": False}}}))

    fake_export("first", "sql")
    fake_export("second", "tool_calls")
    one = register_run(tmp_path / "first", "hearth-sql-test", alias="production")
    two = register_run(tmp_path / "second", "hearth-sql-test")
    assert resolve_model_spec("registry:hearth-sql-test@production").name.endswith("first-Q8_0.gguf")
    assert model_task("registry:hearth-sql-test@production") == "sql"  # the run's main task, as a registry tag
    latest = resolve_model_spec("registry:hearth-sql-test?n_ctx=2048")
    assert latest.provider == "gguf" and latest.name.endswith("second-Q8_0.gguf") and latest.options == {"n_ctx": "2048"}
    assert resolve_model_spec("registry:hearth-sql-test@production?format=hf").provider == "hf"
    promote("hearth-sql-test", two["version"], "production")
    assert resolve_model_spec("registry:hearth-sql-test@production").name.endswith("second-Q8_0.gguf")
    listed = {v["version"]: v for v in list_models() if v["name"] == "hearth-sql-test"}
    assert listed[two["version"]]["aliases"] == ["production"] and listed[one["version"]]["aliases"] == []
    with pytest.raises(ModelSpecError, match="training.registry register"):
        resolve_model_spec("registry:no-such-model@production")
    # the task follows the moved alias in the same process, as the model itself does
    assert model_task("registry:hearth-sql-test@production") == "tool_calls"


def test_shared_prefix_loss_equals_the_full_pass_on_real_tool_rows(tmp_path):
    """Home tool rows share a ~1,700-token system prompt; `--shared-prefix` encodes it once per step.
    On the real bundled model its loss must equal the plain full-sequence loss."""
    import torch

    from training.base_model import BUNDLED, chat_token_ids, load_model, resolve_base
    from training.sft import completion_only_loss, shared_prefix_length, shared_prefix_loss
    from training.task_data import read_dataset
    from training.tool_data import build_tool_dataset

    build_tool_dataset(tmp_path / "tools.jsonl", per_call=1)
    rows = read_dataset(tmp_path / "tools.jsonl")[:3]
    model, tokenizer = load_model(resolve_base(BUNDLED))
    model.eval()
    sequences, labels = [], []
    for row in rows:
        prompt = chat_token_ids(tokenizer, row["prompt"], add_generation_prompt=True)
        full = chat_token_ids(tokenizer, row["prompt"] + row["completion"])
        assert full[: len(prompt)] == prompt
        sequences.append(full)
        labels.append([-100] * len(prompt) + full[len(prompt):])
    width = max(map(len, sequences))
    pad = tokenizer.pad_token_id or 0
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in sequences])
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences])
    target = torch.tensor([lab + [-100] * (width - len(lab)) for lab in labels])
    assert shared_prefix_length(ids, target) > 1500  # the system prompt, shared by every row
    with torch.no_grad():
        plain = completion_only_loss(model, ids, mask, target)
        shared = shared_prefix_loss(model, ids, mask, target)
    assert torch.isfinite(plain) and abs(float(plain) - float(shared)) < 1e-3, (float(plain), float(shared))


def test_sft_refuses_rows_its_max_length_would_cut(tmp_path):
    from training.sft import SFTSettings, run_sft
    from training.tool_data import build_tool_dataset

    info = build_tool_dataset(tmp_path / "tools.jsonl", per_call=1)
    with pytest.raises(ValueError, match=r"--max-length \d+.*--shared-prefix"):
        run_sft(SFTSettings(data=info["path"], max_steps=1, max_length=512, out=str(tmp_path / "run")))
