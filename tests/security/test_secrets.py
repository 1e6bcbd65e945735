"""No default secrets (OWASP LLM02/LLM06): the home hub and apps.serve generate a random secret
on first start (owner-only file, shown once) or take one given; beyond loopback they refuse to
start without one; no secret is written in the source."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from models.serving.keys import InsecureBindError, is_loopback, read_secret, resolve_secret, secret_path

pytestmark = pytest.mark.security
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    monkeypatch.delenv("HEARTH_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HEARTH_API_KEY", raising=False)
    return tmp_path


def test_first_start_generates_an_owner_only_secret_shown_once(home):
    secret, notice = resolve_secret("serve", None, "127.0.0.1", fix="--api-key KEY")
    path = secret_path("serve")
    assert path.is_relative_to(home) and len(secret) >= 40 and secret in notice
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, notice_again = resolve_secret("serve", None, "127.0.0.1", fix="--api-key KEY")
    assert again == secret and secret not in notice_again and str(path) in notice_again
    assert resolve_secret("home_hub", None, "::1", fix="--token T")[0] != secret  # one secret per server


def test_a_given_secret_wins_and_is_never_stored(home):
    assert resolve_secret("serve", "s3cret", "0.0.0.0", fix="--api-key KEY")[0] == "s3cret"
    assert read_secret("serve") is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "my-box.local"])
def test_binding_beyond_loopback_without_a_secret_is_refused(home, host):
    with pytest.raises(InsecureBindError, match="--api-key KEY"):
        resolve_secret("serve", None, host, fix="--api-key KEY")
    assert not is_loopback(host)
    assert read_secret("serve") is None


@pytest.mark.parametrize("module, flag", [("apps.home_hub", "--token"), ("apps.serve", "--api-key")])
def test_servers_refuse_a_network_address_without_a_secret(home, module, flag):
    """The real command lines: exit code 2 and the fix, before anything listens."""
    result = subprocess.run([sys.executable, "-m", module, "--host", "0.0.0.0", "--port", "9"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120,
                            env={**os.environ, "HEARTH_HOME": str(home)})
    assert result.returncode == 2, result.stderr
    assert "Refusing to listen on 0.0.0.0" in result.stderr and flag in result.stderr
    assert read_secret("serve") is None and read_secret("home_hub") is None


def test_the_hub_rejects_the_old_published_token_and_the_client_finds_the_generated_one(home):
    from tools.home.hub_server import create_app
    from tools.home.client import HomeAssistantClient

    hub = TestClient(create_app(home / "house.sqlite"))
    old = hub.get("/api/states", headers={"Authorization": "Bearer hearth-dev-token"})
    assert old.status_code == 401
    client = HomeAssistantClient("http://testserver", http=hub)   # no token given: reads the stored one
    assert client.token == read_secret("home_hub")
    assert any(s["entity_id"] == "lock.front_door" for s in client.states())


def test_apps_serve_clients_on_loopback_find_the_generated_key(home):
    from models.serving.keys import client_key, read_or_create_secret

    key, _ = read_or_create_secret("serve")
    assert client_key("http://127.0.0.1:8008/v1") == key
    assert client_key("http://gpu-box:8000/v1") is None   # never sent to another machine


def test_no_secret_is_hard_coded_in_the_source():
    tracked = subprocess.run(["git", "ls-files", "*.py", "*.md", "*.json", "*.toml", "dev"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    offenders = [name for name in tracked if name != "tests/security/test_secrets.py"
                 and "hearth-dev-token" in (ROOT / name).read_text(errors="ignore")]
    assert offenders == []
