"""The Streamlit chat: Streamlit's AppTest with the real embedded model, and a headless-browser
screenshot of the running page."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from servers import ROOT, free_port, python, running

pytestmark = pytest.mark.slow


def test_chat_page_answers_with_cited_sources(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("HEARTH_INDEX", str(tmp_path / "qdrant"))
    monkeypatch.setenv("HEARTH_CHECKPOINTS", f"sqlite:///{tmp_path / 'memory.sqlite'}")
    at = AppTest.from_file(str(ROOT / "apps" / "ui" / "chat_page.py"), default_timeout=240)
    at.run()
    assert not at.exception
    assert any("chunks indexed in 'handbook'" in c.value for c in at.sidebar.caption)
    at.chat_input[0].set_value("How many days of annual leave do I get?").run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    sources = [e.label for e in at.expander]
    assert sources and sources[0].startswith("Sources (")
    markdown = " ".join(m.value for m in at.markdown)
    assert "annual-leave.md" in markdown  # the cited / consulted source list names the file


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_running_chat_page_renders_in_a_browser(tmp_path):
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not chromium:
        pytest.skip("Chromium is not installed (./dev test installs it)")
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {"HEARTH_HOME": str(tmp_path)}
    with running(python("-m", "apps.chat", "--port", str(port)), f"http://127.0.0.1:{port}/_stcore/health",
                 env=env, timeout=120, log=tmp_path / "streamlit.log"):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            page.get_by_text("Ask the handbook").wait_for(timeout=120_000)
            page.get_by_text("chunks indexed in 'handbook'").wait_for(timeout=180_000)
            shot = tmp_path / "chat.png"
            page.screenshot(path=str(shot), full_page=True)
            chat_box = page.get_by_placeholder("Ask about leave, expenses, security, remote work…")
            assert chat_box.is_visible()
            browser.close()
    width, height = _png_size(shot)
    assert (width, height) >= (1280, 800)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    out = os.environ.get("HEARTH_SCREENSHOT_DIR")
    if out:
        shutil.copy(shot, Path(out) / "chat.png")


def test_chat_page_shows_an_abstention_plainly(tmp_path, monkeypatch):
    """A question the handbook does not cover: a warning saying so (and what the handbook covers), no sources list."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("HEARTH_INDEX", str(tmp_path / "qdrant"))
    monkeypatch.setenv("HEARTH_CHECKPOINTS", f"sqlite:///{tmp_path / 'memory.sqlite'}")
    at = AppTest.from_file(str(ROOT / "apps" / "ui" / "chat_page.py"), default_timeout=240)
    at.run()
    at.chat_input[0].set_value("Can I bring my dog to the office?").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    warnings = [w.value for w in at.warning]
    assert warnings and warnings[0].startswith("**Not in the documents.**") and "staff handbook" in warnings[0]
    assert not [e.label for e in at.expander if e.label.startswith("Sources")]
