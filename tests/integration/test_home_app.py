"""Home automation end to end: the hub simulator as its own process over loopback HTTP, the CLI,
the Streamlit page, and one command decided by the real embedded model."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from servers import ROOT, free_port, python, running

pytestmark = pytest.mark.slow
TOKEN = "test-token"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(python("-m", "apps.home_hub", "--port", str(port), "--token", TOKEN, "--db", str(folder / "house.sqlite")),
                 f"{url}/api/", env={}, timeout=60, log=folder / "hub.log", headers={"Authorization": f"Bearer {TOKEN}"}):
        yield url


def state(hub, entity_id):
    return httpx.get(f"{hub}/api/states/{entity_id}", headers={"Authorization": f"Bearer {TOKEN}"}).json()


def ask(hub, *args):
    env = {"HEARTH_HUB_URL": hub, "HEARTH_HUB_TOKEN": TOKEN}
    import os

    return subprocess.run([sys.executable, "-m", "apps.home", "--ask", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)


def test_cli_warmer_raises_the_set_point_on_the_hub(hub):
    before = state(hub, "climate.thermostat")["attributes"]["temperature"]
    done = ask(hub, "make it warmer in here")
    assert done.returncode == 0, done.stderr
    assert state(hub, "climate.thermostat")["attributes"]["temperature"] == before + 1
    assert f"Raised the thermostat from {before:g} °C to {before + 1:g} °C" in done.stdout


def test_cli_risky_action_is_declined_without_a_terminal(hub):
    done = ask(hub, "unlock the back door")
    assert "pass --yes to confirm" in done.stderr
    assert state(hub, "lock.back_door")["state"] == "locked"
    assert ask(hub, "unlock the back door", "--yes").returncode == 0
    assert state(hub, "lock.back_door")["state"] == "unlocked"


def test_cli_wrong_token_is_a_clear_error(hub):
    import os

    done = subprocess.run([sys.executable, "-m", "apps.home", "--ask", "turn on the porch light"], cwd=ROOT,
                          env={**os.environ, "HEARTH_HUB_URL": hub, "HEARTH_HUB_TOKEN": "wrong"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "rejected the access token" in done.stderr


def test_embedded_model_picks_a_valid_home_call(hub):
    """Model only (no sentence matcher): the constrained call is always valid against the house."""
    done = ask(hub, "Please switch the porch light on", "--model-only", "--no")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_streamlit_page_confirms_before_unlocking(hub, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("HEARTH_HUB_URL", hub)
    monkeypatch.setenv("HEARTH_HUB_TOKEN", TOKEN)
    at = AppTest.from_file(str(ROOT / "apps" / "ui" / "home_page.py"), default_timeout=120).run()
    assert not at.exception
    assert any("Front door" in m.value for m in at.markdown)  # the device panel
    at.chat_input[0].set_value("unlock the front door").run()
    assert [w.value for w in at.warning] == ["Do you want me to unlock Front door? (yes/no)"]
    assert state(hub, "lock.front_door")["state"] == "locked"
    next(b for b in at.button if b.label == "Yes, do it").click().run()
    assert state(hub, "lock.front_door")["state"] == "unlocked"
    assert at.chat_message[-1].markdown[0].value == "Unlocked the front door."  # the reply names the change
