"""The tokenization lab end to end: the comparison CLI and dashboard with all six real tokenizers
(our BPE and SentencePiece trained on first use, BERT WordPiece, SmolLM2's GGUF vocabulary,
tiktoken), the BPE training CLI and a quick run of the benchmark."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from servers import ROOT, free_port, python, running

pytestmark = pytest.mark.slow

ALL_SIX = ["ours-bpe", "sentencepiece", "bert-wordpiece", "smollm2", "cl100k_base", "o200k_base"]


def run_module(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=os.environ.copy())


def test_cli_table_compares_all_six_tokenizers():
    import tiktoken

    text = "Der Beklagte (28 U.S.C. § 1291) said: 👋🏽 return x**2"
    result = run_module("apps.tokenizers", "--text", text, "--show-tokens")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in result.stdout.splitlines() if line.startswith("| ") and "tokenizer" not in line}
    assert list(rows) == ALL_SIX
    for name in ("ours-bpe", "smollm2", "cl100k_base", "o200k_base"):
        assert rows[name][-1] == "yes" and rows[name][4] == "0"  # exact round trip, no unknowns
    assert rows["bert-wordpiece"][-1] == "no" and int(rows["bert-wordpiece"][4]) >= 1
    assert rows["sentencepiece"][-1] == "no" and int(rows["sentencepiece"][4]) >= 1
    assert all(int(r[0]) > 10 for r in rows.values())
    cl100k = tiktoken.get_encoding("cl100k_base")
    assert int(rows["cl100k_base"][0]) == len(cl100k.encode(text))
    shown = [cl100k.decode_single_token_bytes(t).decode("utf-8", errors="backslashreplace")
             for t in cl100k.encode(text)]
    assert "cl100k_base: " + "|".join(shown) in result.stdout
    cached = sorted(p.name for p in (Path(os.environ["HEARTH_HOME"]) / "tokenizers").iterdir())
    assert cached == ["legal-bpe-4096.model", "legal-bpe-4096.vocab", "sentencepiece-en-de-4000.model",
                      "sentencepiece-en-de-4000.vocab"]


def test_dashboard_page_tokenizes_side_by_side(tmp_path):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "apps" / "ui" / "tokenizers_page.py"), default_timeout=180)
    at.run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value.index.tolist() == ALL_SIX
    headers = [m.value for m in at.markdown if m.value.startswith("**")]
    assert [h.split("**")[1] for h in headers] == ALL_SIX
    assert sum("<span style=\"background:" in m.value for m in at.markdown) == 6

    import tiktoken

    typed = "<b>Hallo</b> 👋"
    at.text_area[0].set_value(typed).run()
    assert not at.exception
    blocks = [m.value for m in at.markdown if m.value.startswith("<div")]
    assert len(blocks) == 6 and all("&lt;" in b and "<b>" not in b for b in blocks)  # escaped, not rendered
    assert at.dataframe[0].value.loc["cl100k_base", "tokens"] == len(tiktoken.get_encoding("cl100k_base").encode(typed))

    at.sidebar.text_input[0].set_value(str(tmp_path / "missing.model")).run()
    assert at.error and "python -m training.tokenizers.bpe" in at.error[0].value


def test_running_dashboard_renders_in_a_browser(tmp_path):
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not chromium:
        pytest.skip("Chromium is not installed (./dev test installs it)")
    from playwright.sync_api import sync_playwright

    port = free_port()
    # bert-wordpiece imports Hugging Face's `tokenizers` inside the Streamlit process, where
    # apps/tokenizers.py could shadow it; the other two are the byte-level kinds.
    shown = ["ours-bpe", "bert-wordpiece", "cl100k_base"]
    command = python("-m", "apps.tokenizers", "--port", str(port), "--names", ",".join(shown))
    with running(command, f"http://127.0.0.1:{port}/_stcore/health", timeout=120, log=tmp_path / "streamlit.log"):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            page.get_by_text("Tokenizers side by side").first.wait_for(timeout=120_000)
            blocks = page.locator("[data-testid=stMarkdownContainer] div[style*='pre-wrap']")
            blocks.nth(2).wait_for(timeout=120_000)  # the third tokenizer's coloured tokens
            headers = page.locator("[data-testid=stMarkdownContainer] strong").all_inner_texts()
            spans = [blocks.nth(i).locator("span").count() for i in range(blocks.count())]
            page.screenshot(path=str(tmp_path / "tokenizers.png"), full_page=True)
            browser.close()
    # every tokenizer drew its coloured tokens (had apps/tokenizers.py shadowed Hugging Face's
    # `tokenizers` package in the Streamlit process, the page would have stopped with an error)
    assert len(spans) == 3 and all(n >= 50 for n in spans), spans
    assert [h for h in headers if h in ALL_SIX] == shown
    log = (tmp_path / "streamlit.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    out = os.environ.get("HEARTH_SCREENSHOT_DIR")
    if out:
        shutil.copy(tmp_path / "tokenizers.png", Path(out) / "tokenizers.png")


def test_bpe_cli_trains_and_saves_a_loadable_model(tmp_path):
    from training.tokenizers.bpe import BPETokenizer

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The court held that the statute applies. " * 50 + "Grüße 👋\n", encoding="utf-8")
    result = run_module("training.tokenizers.bpe", "--data", str(corpus), "--vocab-size", "300",
                        "--special", "<|endoftext|>", "--out", str(tmp_path / "small"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "characters per token on the training text" in result.stdout and "cl100k_base:" in result.stdout
    tokenizer = BPETokenizer.load(tmp_path / "small.model")
    assert tokenizer.vocab_size <= 300 and tokenizer.special_tokens == {"<|endoftext|>": tokenizer.vocab_size - 1}
    assert len(tokenizer.encode(" court")) == 1


def test_benchmark_quick_run_meets_the_shared_targets(tmp_path):
    result = run_module("evals.tokenizers", "--quick", "--sweep", "600", "--out", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "tokenizers.json").read_text())
    assert (tmp_path / "tokenizers.md").read_text().startswith("# BPE benchmark (legal, vocab 400)")
    assert report["naive"]["same_merges"] and report["naive"]["merges"] == 144
    assert report["naive"]["speedup"] > 3  # tiny slice in quick mode; the full run reports the 50x target
    assert report["targets"]["round_trips_ok"] and report["targets"]["compression_met"]
    assert [r["label"] for r in report["training"]] == ["legal (train split)", "legal + pubmedqa"]
    assert all(r["ours_vocab"] == r["hf_vocab"] == 400 for r in report["training"])
    assert {r["system"] for r in report["held_out"]} == {"ours (Python)", "hf tokenizers (Rust)",
                                                          "tiktoken cl100k_base", "tiktoken o200k_base"}
    sweep = {(r["system"], r["vocab_size"]): r for r in report["vocabulary_sweep"]}
    assert set(sweep) == {("tiktoken cl100k_base", None), ("tiktoken o200k_base", None), ("ours (Python)", 400),
                          ("ours (Python)", 600)}
    assert sweep[("ours (Python)", 600)]["chars_per_token"] > sweep[("ours (Python)", 400)]["chars_per_token"]
    assert sweep[("tiktoken cl100k_base", None)]["vs_cl100k"] == 1.0
    assert "ours / HF" in result.stdout and "vs cl100k_base" in result.stdout
