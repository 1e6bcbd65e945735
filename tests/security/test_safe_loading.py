"""Safe loading (OWASP LLM03/LLM04): mini-GPT checkpoints load with weights_only=True, a pickle
that would run code is refused, and the lab tools read checkpoints and tokenizers only from the
folders the labs write to (or that the user allowed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from training.minigpt.train import TrainConfig, UnsafeCheckpointError, load_checkpoint, load_model, train

pytestmark = pytest.mark.security

TEXT = "the cat sat on the mat. the dog sat on the log. " * 12


class RunsCode:
    """What an attacker puts in a checkpoint: unpickling it calls os.system-like code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def _tiny_run(folder: Path) -> dict:
    config = TrainConfig(data="tiny", position="rope", n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4,
                         steps=2, warmup_steps=1, eval_interval=2, eval_batches=1, checkpoint_interval=2,
                         out_dir=str(folder), mlruns=str(folder / "mlruns"), loss_curve=False)
    return train(config, text=TEXT)


def test_a_malicious_pickle_checkpoint_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "marker.txt"
    evil = tmp_path / "evil" / "ckpt.pt"
    evil.parent.mkdir()
    torch.save({"model": {}, "payload": RunsCode(marker)}, evil)
    with pytest.raises(UnsafeCheckpointError, match="Refused to load"):
        load_checkpoint(evil.parent)
    assert not marker.exists()
    # what the old loader (weights_only=False) did with the same file:
    torch.load(evil, weights_only=False)
    assert marker.read_text() == "pwned"


def test_real_checkpoints_hold_only_tensors_and_plain_data(tmp_path):
    result = _tiny_run(tmp_path / "run")
    model, tokenizer, ckpt = load_model(result["checkpoint"])
    assert ckpt["step"] == 2 and ckpt["train_config"]["steps"] == 2
    assert tokenizer.decode(tokenizer.encode("the cat")) == "the cat"
    assert model.num_parameters() == result["parameters"]


@pytest.fixture
def lab_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HEARTH_LAB_PATHS", raising=False)
    from training.lab_tools import lab_home

    return lab_home()


def test_lab_tools_read_checkpoints_only_from_allowed_folders(tmp_path, lab_home, monkeypatch):
    from training.lab_tools import sample_text

    outside = tmp_path / "downloads" / "ckpt"
    _tiny_run(outside)
    refused = sample_text.invoke({"checkpoint": str(outside), "tokens": 3})
    assert "outside the folders lab tools may read" in refused and "HEARTH_LAB_PATHS" in refused
    sneaky = sample_text.invoke({"checkpoint": str(lab_home / ".." / ".." / "downloads" / "ckpt"), "tokens": 3})
    assert "outside the folders" in sneaky   # `..` is resolved before the check

    inside = lab_home / "minigpt" / "mine"
    _tiny_run(inside)
    assert isinstance(sample_text.invoke({"checkpoint": str(inside), "tokens": 3}), dict)
    monkeypatch.setenv("HEARTH_LAB_PATHS", str(tmp_path / "downloads"))
    assert isinstance(sample_text.invoke({"checkpoint": str(outside), "tokens": 3}), dict)


def test_a_symlink_out_of_the_lab_home_is_refused(tmp_path, lab_home):
    from training.lab_tools import evaluate_perplexity

    target = tmp_path / "elsewhere"
    _tiny_run(target)
    (lab_home / "minigpt").mkdir(parents=True, exist_ok=True)
    link = lab_home / "minigpt" / "link"
    os.symlink(target, link)
    assert "outside the folders" in evaluate_perplexity.invoke({"checkpoint": str(link)})


def test_tokenizer_paths_are_checked_too(tmp_path, lab_home):
    from training.lab_tools import compare_tokenizers

    answer = compare_tokenizers.invoke({"text_or_corpus": "some text", "tokenizer_path": str(tmp_path / "x.model")})
    assert "outside the folders lab tools may read" in answer
