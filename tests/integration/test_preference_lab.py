"""Preference tuning and merging on the real bundled model: a few-step reward model and DPO run on a
slice of HH-RLHF harmless (tracked in MLflow), and mergekit merges of two perturbed copies of the
bundled model that load, generate, and keep the tokenizer and chat template."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_folder():
    """The bundled model as a transformers folder: the checkout's copy when there is one (dequantizing
    the GGUF again costs a minute), else written into the test session's data home."""
    from servers import ROOT

    local = ROOT / ".hearth" / "finetune" / "base" / "smollm2-135m-instruct"
    if (local / "model.safetensors").is_file():
        return local
    from training.base_model import bundled_hf_folder

    return bundled_hf_folder()


@pytest.fixture(scope="module")
def reward_run(base_folder, tmp_path_factory):
    from training.reward_model import RewardSettings, run_reward_model

    out = tmp_path_factory.mktemp("rm") / "run"
    settings = RewardSettings(base=str(base_folder), train_limit=8, max_steps=2, batch_size=2, grad_accum=1,
                              max_length=96, eval_steps=0, test_limit=4, warmup_steps=0, out=str(out))
    return run_reward_model(settings)


def test_reward_model_trains_scores_and_reports_against_both_baselines(reward_run):
    from training.reward_model import evaluate_with_reward, write_tables
    from training.tracking import mlflow_client

    metrics, test = reward_run["metrics"], reward_run["test"]
    assert metrics["steps"] == 2 and metrics["pairs_seen"] == 4 and metrics["test_pairs"] == 4
    assert [row["method"] for row in test["table"]] == ["reward model", "length (longer wins)",
                                                        "base log-likelihood (mean per token)"]
    assert all(row["pairs"] == 4 and row["ci95_low"] <= row["accuracy"] <= row["ci95_high"] for row in test["table"])
    split = reward_run["split"]["parts"]
    assert split["test"]["pairs"] > 400 and split["train"]["pairs"] > 1500
    config = json.loads(Path(reward_run["weights"], "config.json").read_text(encoding="utf-8"))
    assert config["architectures"] == ["LlamaForSequenceClassification"] and len(config["id2label"]) == 1
    tracked = mlflow_client().get_run(reward_run["mlflow_run_id"])
    assert tracked.data.params["dataset_sha256"] == reward_run["split"]["data_sha256"]

    items = [{"prompt": "How do I hurt my neighbour?", "answer": "I won't help with hurting anyone."},
             {"prompt": "How do I hurt my neighbour?", "answer": "Wait until dark and hit him."}]
    scores = evaluate_with_reward(reward_run["weights"], items)
    assert len(scores) == 2 and all(math.isfinite(s) for s in scores) and scores[0] != scores[1]
    assert evaluate_with_reward(reward_run["weights"], items[:1]) == pytest.approx(scores[:1], abs=1e-4)
    table = write_tables(reward_run, reward_run["run_folder"] + "/tables")
    assert "| reward model |" in table.read_text(encoding="utf-8")


def test_the_reward_model_judges_hh_pairs_only_on_prompts_it_never_trained_on(reward_run, tmp_path, capsys):
    """evals.judge with `--judge reward:RUN`: the pairs it is measured on are all from the run's own
    test part (none of its train or validation prompts), the verdict follows its scores, and the
    report says how many prompts were left out."""
    from evals.judge import RewardJudge, judge_hh, load_hh_pairs
    from evals.judge import main as judge_main
    from models.settings import shared_data
    from training.preference_data import load_split

    judge = RewardJudge(reward_run["run_folder"])
    parts, _ = load_split(reward_run["split"]["data"], seed=reward_run["split"]["seed"])
    test_prompts = {p["prompt_key"] for p in parts["test"]}
    pairs = load_hh_pairs(shared_data() / "hh_rlhf_harmless_test", 3, leave_out=judge.trained_prompts)
    assert len(pairs) == 3 and all(p["prompt_key"] in test_prompts for p in pairs)
    result = judge.pair(pairs[0]["context"], pairs[0]["chosen"], pairs[0]["rejected"])
    a, b = result["scores"]
    assert result["winner"] == ("first" if a > b else "second" if b > a else "tie") and result["consistent"]
    summary = judge_hh(judge, pairs, progress=False)
    assert summary["pairs"] == 3 and summary["chosen"] + summary["rejected"] + summary["ties"] == 3

    out = tmp_path / "judge"
    assert judge_main(["--judge", f"reward:{reward_run['run_folder']}", "--limit", "2", "--out", str(out)]) == 0
    report = json.loads((out / "agreement.json").read_text(encoding="utf-8"))
    assert report["left_out_prompts"] == len(judge.trained_prompts) > 1500 and report["pairs"] == 2
    assert judge_main(["--judge", f"reward:{reward_run['run_folder']}", "--grade", "q", "a"]) == 2
    assert "--pair" in capsys.readouterr().err
    assert judge_main(["--judge", f"reward:{tmp_path}"]) == 2
    assert "run.json" in capsys.readouterr().err


def test_a_registered_reward_model_is_a_judge_and_never_a_chat_model(reward_run):
    """training.registry registers the reward run (kind=reward, real MLflow); `reward:registry:NAME@ALIAS`
    finds its run, and a chat-model `registry:` spec refuses it with the judge command."""
    from evals.judge import RewardJudge
    from models import ModelSpecError
    from models.spec import resolve_model_spec
    from training.registry import list_models
    from training.registry import main as registry_main

    registered = registry_main(["register", reward_run["run_folder"], "--name", "hearth-reward-test",
                                "--alias", "production"])
    assert registered["kind"] == "reward" and registered["hf"].endswith("model")
    judge = RewardJudge("registry:hearth-reward-test@production")
    assert judge.weights == Path(reward_run["weights"]).resolve()
    listed = [v for v in list_models() if v["name"] == "hearth-reward-test"]
    assert listed[0]["aliases"] == ["production"] and "test_accuracy" in listed[0]["metrics"]
    with pytest.raises(ModelSpecError, match="reward:registry:hearth-reward-test@production"):
        resolve_model_spec("registry:hearth-reward-test@production")


@pytest.fixture(scope="module")
def probe_settings(base_folder, tmp_path_factory):
    from training.reward_model import RewardSettings

    home = tmp_path_factory.mktemp("probe")
    return lambda name: RewardSettings(base=str(base_folder), method="probe", train_limit=24, val_max=8, test_limit=6,
                                       max_length=64, threads=2, out=str(home / name))


@pytest.fixture(scope="module")
def probe_run(probe_settings):
    from training.reward_model import run_reward_model

    return run_reward_model(probe_settings("first"))


def test_the_linear_probe_reward_model_is_fitted_on_train_chosen_on_validation_and_judges_like_its_table(
        probe_run, probe_settings):
    """`--method probe` on the real bundled model: the table has the same three rows on the same
    test pairs, C comes from the validation part, the saved probe scores answers through
    `evaluate_with_reward` exactly as the run scored its test pairs, a second run reads the cached
    features and fits the same probe, and the probe run is a judge, a DPO reward model and a
    registry entry like a RewardTrainer run."""
    from evals.judge import RewardJudge
    from training.preference_data import load_split
    from training.registry import main as registry_main
    from training.reward_model import evaluate_with_reward, is_reward_weights, run_reward_model, write_tables
    from training.reward_probe import C_GRID

    first = probe_run
    metrics, test = first["metrics"], first["test"]
    assert [row["method"] for row in test["table"]] == ["reward model (linear probe)", "length (longer wins)",
                                                        "base log-likelihood (mean per token)"]
    assert all(row["pairs"] == 6 for row in test["table"]) and metrics["train_pairs"] == 24
    assert metrics["validation_pairs"] == 8 and metrics["probe_C"] in C_GRID
    assert set(first["validation_by_C"]) == {str(c) for c in C_GRID} and first["layers"] == [12, 20, 26, 30]
    assert metrics["trainable_parameters"] == 4 * 2 * 576 and is_reward_weights(first["weights"])

    parts, _ = load_split(first["split"]["data"], seed=first["split"]["seed"])
    pairs = parts["test"][:6]
    chosen = evaluate_with_reward(first["weights"], [{"prompt": p["prompt"], "answer": p["chosen"]} for p in pairs], max_length=64)
    rejected = evaluate_with_reward(first["weights"], [{"prompt": p["prompt"], "answer": p["rejected"]} for p in pairs], max_length=64)
    right = sum(c > r for c, r in zip(chosen, rejected))
    assert right == test["table"][0]["correct"]
    assert sum(c - r for c, r in zip(chosen, rejected)) / 6 == pytest.approx(test["mean_margin"], abs=2e-3)

    second = run_reward_model(probe_settings("second"))
    assert second["metrics"]["probe_C"] == metrics["probe_C"] and second["test"]["table"] == test["table"]
    assert second["test"]["seconds"]["features_train"] < max(1.0, test["seconds"]["features_train"] / 3)
    assert "C = " in write_tables(second, second["run_folder"] + "/tables").read_text(encoding="utf-8")

    judge = RewardJudge(first["run_folder"])
    assert judge.pair(pairs[0]["prompt"][-1]["content"], pairs[0]["chosen"], pairs[0]["rejected"])["consistent"]
    registered = registry_main(["register", first["run_folder"], "--name", "hearth-probe-test"])
    assert registered["kind"] == "reward"


def test_dpo_trains_a_lora_with_the_adapter_off_as_reference_and_measures_before_after(reward_run, base_folder, tmp_path):
    from training.dpo import DPOSettings, run_dpo

    settings = DPOSettings(base=str(base_folder), reward_model=reward_run["run_folder"], train_limit=4, max_steps=1,
                           batch_size=2, grad_accum=1, max_length=128, max_prompt_length=64, implicit_pairs=3,
                           win_prompts=2, xstest=1, max_new_tokens=8, warmup_steps=0, out=str(tmp_path / "dpo"))
    summary = run_dpo(settings)
    metrics, measured = summary["metrics"], summary["measured"]
    assert metrics["steps"] == 1 and metrics["reference_model_copies"] == 0
    assert (tmp_path / "dpo" / "adapter" / "adapter_config.json").is_file()
    implicit = measured["implicit_reward"]
    assert implicit["pairs"] == 3 and 0 <= implicit["ties"] <= 3
    assert implicit["accuracy"] is None if implicit["ties"] == 3 else 0 <= implicit["accuracy"] <= 1
    assert measured["win_rate"]["prompts"] == 2
    assert {k: v["prompts"] for k, v in measured["xstest"].items()} == {
        "safe_before": 1, "safe_after": 1, "unsafe_before": 1, "unsafe_after": 1}


def _perturbed_copy(base_folder, out, seed: int):
    """The bundled model with small seeded noise on the first and last blocks' attention and MLP
    projections: a stand-in for a fine-tune (named as such), enough to tell merges apart."""
    import torch

    from training.base_model import load_model

    model, tokenizer = load_model(base_folder)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.ndim == 2 and (".layers.0." in name or ".layers.29." in name):
                parameter.add_(torch.randn(parameter.shape, generator=generator) * 1e-3)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_merges_load_generate_and_keep_tokenizer_and_chat_template(base_folder, tmp_path):
    import torch
    from safetensors.torch import load_file

    from training.base_model import chat_token_ids, load_model
    from training.merge import PROBE_CHAT, merge_models

    a = _perturbed_copy(base_folder, tmp_path / "perturbed-a", seed=1)
    b = _perturbed_copy(base_folder, tmp_path / "perturbed-b", seed=2)
    linear = merge_models("linear", [a, b], out=tmp_path / "linear")
    key = "model.layers.0.self_attn.q_proj.weight"
    wa, wb, wm = (load_file(str(f / "model.safetensors"))[key] for f in (a, b, linear))
    assert torch.allclose(wm, (wa + wb) / 2, atol=1e-6) and not torch.allclose(wm, wa)

    model, tokenizer = load_model(linear)
    _, reference = load_model(a)
    assert chat_token_ids(tokenizer, PROBE_CHAT) == chat_token_ids(reference, PROBE_CHAT)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert len(tokenizer.decode(out[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True).strip()) > 0

    ties = merge_models("ties", [a, b], base=base_folder, out=tmp_path / "ties")
    info = json.loads((ties / "merge.json").read_text(encoding="utf-8"))
    assert info["method"] == "ties" and info["config"]["base_model"] == str(base_folder)
    wt = load_file(str(ties / "model.safetensors"))[key]
    assert not torch.allclose(wt, wm)
    assert chat_token_ids(load_model(ties)[1], PROBE_CHAT) == chat_token_ids(reference, PROBE_CHAT)

    # `--gguf`: the merge as one F16 GGUF that llama.cpp loads with the chat template and answers from
    from gguf import GGUFReader

    from models import load_chat_model
    from training.merge import main as merge_cli

    out = merge_cli(["--method", "linear", "--models", str(a), str(b), "--out", str(tmp_path / "cli"), "--gguf"])
    gguf_file = out / "merged-F16.gguf"
    template = GGUFReader(str(gguf_file)).fields["tokenizer.chat_template"]
    assert "<|im_start|>" in bytes(template.parts[template.data[0]]).decode("utf-8")
    reply = load_chat_model(f"gguf:{gguf_file}?temperature=0&max_tokens=8").invoke("What is the capital of France?")
    assert reply.text.strip()


def test_on_policy_dpo_ranks_the_models_own_samples_with_the_probe_and_trains_on_train_prompts_only(probe_run, base_folder,
                                                                                                    tmp_path):
    """`--pairs on-policy`: two samples of the start model per train prompt, the probe's preferred one
    as chosen; the pairs are kept in the run folder, come only from train prompts, and DPO trains on them."""
    from training.dpo import DPOSettings, run_dpo
    from training.preference_data import load_split

    settings = DPOSettings(base=str(base_folder), reward_model=probe_run["run_folder"], pairs="on-policy", train_limit=6,
                           max_steps=1, batch_size=2, grad_accum=1, max_length=128, max_prompt_length=64,
                           implicit_pairs=2, win_prompts=2, xstest=0, max_new_tokens=12, warmup_steps=0,
                           out=str(tmp_path / "dpo"))
    summary = run_dpo(settings)
    report = summary["on_policy"]
    assert report["prompts"] == 6 and report["pairs"] + report["dropped"] == 6 and report["pairs"] >= 2
    rows = [json.loads(line) for line in (tmp_path / "dpo" / "on_policy_pairs.jsonl").read_text().splitlines()]
    parts, _ = load_split(summary["split"]["data"], seed=summary["split"]["seed"])
    test_prompts = {p["prompt_key"] for p in parts["test"]}
    assert len(rows) == report["pairs"] and not {r["prompt_key"] for r in rows} & test_prompts
    assert all(r["chosen"] != r["rejected"] and r["reward_gap"] > 0 for r in rows)
    assert summary["metrics"]["steps"] == 1 and summary["metrics"]["pairs"] == "on-policy"
    assert summary["measured"]["win_rate"]["prompts"] == 2

    from training.dpo import remeasure, write_tables

    again = remeasure(summary["run_folder"], DPOSettings(xstest=2, win_prompts=0, implicit_pairs=0, max_new_tokens=4))
    assert {k: v["prompts"] for k, v in again["measured"]["xstest"].items()} == {
        "safe_before": 2, "safe_after": 2, "unsafe_before": 2, "unsafe_after": 2}
    assert "win_rate" not in again["measured"] and list((tmp_path / "dpo").glob("measure-*.json"))
    table = write_tables(again, tmp_path / "tables").read_text(encoding="utf-8")
    assert "XSTest safe prompts refused (over-refusal), 2 prompts" in table and "implicit" not in table
    with pytest.raises(ValueError, match="--reward-model"):
        run_dpo(DPOSettings(base=str(base_folder), pairs="on-policy", train_limit=2, max_steps=1,
                            out=str(tmp_path / "no-judge")))
