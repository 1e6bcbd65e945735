"""mini-GPT: overfitting a tiny text, KV-cache equivalence, exact resume, every position encoding."""

from __future__ import annotations

import pytest
import torch

from training.minigpt.data import CharTokenizer
from training.minigpt.model import GPT, GPTConfig, POSITIONS, alibi_slopes, rotate_half_pairs
from training.minigpt.train import TrainConfig, evaluate_perplexity, load_model, train

TINY_TEXT = "the quick brown fox jumps over the lazy dog. "


def tiny_model(position="rope", vocab_size=30, block_size=16, seed=0, **kw):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=kw.get("n_layer", 1), n_head=2,
                         n_embd=kw.get("n_embd", 32), position=position))


def test_model_overfits_a_tiny_text_and_greedy_sampling_reproduces_it():
    torch.set_num_threads(1)
    tok = CharTokenizer.from_text(TINY_TEXT)
    data = torch.tensor(tok.encode(TINY_TEXT * 2))
    model = tiny_model(vocab_size=tok.vocab_size, block_size=48)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-2)
    x, y = data[None, :45], data[None, 1:46]
    first_loss = None
    for _ in range(40):
        _, loss = model(x, y)
        first_loss = first_loss or loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first_loss > 3.0 and loss.item() < 0.05
    out = model.generate(data[None, :1], len(TINY_TEXT) - 1, temperature=0)
    assert tok.decode(out[0].tolist()) == TINY_TEXT


@pytest.mark.parametrize("position", POSITIONS)
def test_kv_cache_generation_equals_uncached_generation(position):
    model = tiny_model(position, block_size=12)
    prompt = torch.tensor([[1, 2, 3, 4, 5]])
    for kwargs in ({"temperature": 0}, {"temperature": 1.0, "top_k": 5, "seed": 7}):
        cached = model.generate(prompt, 15, use_cache=True, **kwargs)   # slides past block_size=12
        uncached = model.generate(prompt, 15, use_cache=False, **kwargs)
        assert torch.equal(cached, uncached)
    # the cached logits themselves match a full forward pass
    caches = [None] * len(model.blocks)
    ids = torch.tensor([[3, 1, 4, 1, 5, 9]])
    model.eval()
    model(ids[:, :4], start=0, caches=caches)
    step_logits, _ = model(ids[:, 4:], start=4, caches=caches)
    full_logits, _ = model(ids)
    assert torch.allclose(step_logits, full_logits[:, 4:], atol=1e-5)


@pytest.mark.parametrize("position", POSITIONS)
def test_each_position_encoding_trains_and_samples(position):
    model = tiny_model(position)
    x = torch.randint(30, (2, 16))
    _, loss = model(x, x)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert model.generate(x[:, :3], 5, temperature=0.9, top_k=3, seed=0).shape == (2, 8)


def test_learned_positions_refuse_longer_inputs_with_a_fix():
    with pytest.raises(ValueError, match="learned positions.*rope"):
        tiny_model("learned", block_size=8)(torch.zeros(1, 9, dtype=torch.long))
    # the others read past the training length
    assert tiny_model("alibi", block_size=8)(torch.zeros(1, 20, dtype=torch.long))[0].shape == (1, 20, 30)


def test_rope_scores_depend_only_on_distance_and_alibi_slopes_are_geometric():
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    def score(i, j):
        return (rotate_half_pairs(q, torch.tensor([i])) * rotate_half_pairs(k, torch.tensor([j]))).sum().item()
    assert score(5, 2) == pytest.approx(score(13, 10), abs=1e-4)
    assert alibi_slopes(8).tolist() == [2 ** -(i + 1) for i in range(8)]


def test_bad_config_names_the_fix():
    with pytest.raises(ValueError, match="sinusoidal, learned, rope, alibi"):
        GPTConfig(position="xpos")
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=30, n_head=4)


def _config(tmp_path, name, **kw):
    settings = dict(data="tiny", position="alibi", n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4,
                    steps=12, warmup_steps=3, eval_interval=6, eval_batches=1, checkpoint_interval=100,
                    out_dir=str(tmp_path / name), mlruns=str(tmp_path / "mlruns"))
    return TrainConfig(**{**settings, **kw})


def test_resume_continues_the_same_loss_curve_and_logs_each_step_once_to_mlflow(tmp_path):
    text = TINY_TEXT * 6
    straight = train(_config(tmp_path, "straight", loss_curve=False), text=text)
    part = train(_config(tmp_path, "resumed"), text=text, stop_after=5)
    assert part["step"] == 5 and not part["finished"]
    resumed = train(_config(tmp_path, "resumed"), text=text, resume=True)
    a = load_model(tmp_path / "straight")[2]
    b = load_model(tmp_path / "resumed")[2]
    assert [s for s, _ in b["train_losses"]] == list(range(1, 13))
    assert a["train_losses"] == b["train_losses"]            # bit-identical losses after the resume
    assert resumed["val_loss"] == straight["val_loss"]
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key])
    # the real MLflow store in the --mlruns folder: one run, finished, each step logged once
    from training.tracking import mlflow_client

    client = mlflow_client(tmp_path / "mlruns")
    tracked = client.get_run(b["run_id"])
    assert tracked.info.status == "FINISHED" and resumed["mlflow_run_id"] == b["run_id"]
    assert client.get_experiment(tracked.info.experiment_id).name == "minigpt"
    history = client.get_metric_history(b["run_id"], "train_loss")
    assert sorted(m.step for m in history) == list(range(1, 13))    # no step logged twice across the resume
    assert max(history, key=lambda m: m.step).value == pytest.approx(b["train_losses"][-1][1])
    assert tracked.data.params["position"] == "alibi"
    assert (tmp_path / "resumed" / "loss.png").stat().st_size > 1000


def test_perplexity_of_an_untrained_model_is_about_the_vocabulary_size():
    model = tiny_model("rope", vocab_size=30)
    ppl = evaluate_perplexity(model, torch.randint(30, (400,)), 16)
    assert 20 < ppl < 45


def test_study_writes_json_markdown_and_plot_for_each_position(tmp_path, monkeypatch):
    import training.corpora
    from training.minigpt.study import run_study

    monkeypatch.setattr(training.corpora, "load_corpus", lambda name, max_chars=None, **_: TINY_TEXT * 40)
    result = run_study(data="tiny", steps=2, block_size=16, eval_lengths=(16, 32), max_windows=2, out=tmp_path)
    assert [r["position"] for r in result["rows"]] == ["rope", "alibi"]
    assert result["scored_tokens"] == 64 and all(set(r["perplexity"]) == {"16", "32"} for r in result["rows"])
    assert all(r["ratio_to_train_length"]["16"] == 1.0 for r in result["rows"])
    table = (tmp_path / "results.md").read_text()
    assert "| rope |" in table and "| alibi |" in table and "ppl@32" in table
    assert (tmp_path / "results.json").exists() and (tmp_path / "perplexity_by_length.png").stat().st_size > 1000


def test_pretraining_with_our_bpe_tokenizer(tmp_path):
    bpe = pytest.importorskip("training.tokenizers.bpe")
    text = TINY_TEXT * 20
    bpe.train_bpe(text, 270).save(tmp_path / "tiny-bpe")
    result = train(_config(tmp_path, "bpe", tokenizer=f"bpe:{tmp_path / 'tiny-bpe'}", steps=2, loss_curve=False), text=text)
    model, tokenizer, _ = load_model(tmp_path / "bpe")
    assert result["vocab_size"] == 270 == model.config.vocab_size
    assert tokenizer.decode(tokenizer.encode(TINY_TEXT)) == TINY_TEXT


def test_docstring_examples():
    import doctest

    import training.minigpt.model

    result = doctest.testmod(training.minigpt.model)
    assert result.attempted > 0 and result.failed == 0
