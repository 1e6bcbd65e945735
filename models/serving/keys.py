"""Secrets for the project's own servers (apps.serve's API key, the home hub's token): no defaults.

    from models.serving.keys import resolve_secret
    secret, notice = resolve_secret("serve", given=None, host="127.0.0.1", fix="--api-key KEY")
    # first start: a random key, written to .hearth/secrets/serve.key (mode 0600), shown once in `notice`
    # later starts: the same key, read from that file (`notice` names the file, not the key)
    resolve_secret("serve", given=None, host="0.0.0.0", fix="--api-key KEY")   # InsecureBindError

A server on loopback gets a generated secret that clients on the same machine read from the
file (like Jupyter's token); a server that listens on the network must be given one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from pathlib import Path

class InsecureBindError(ValueError):
    """A server was asked to listen beyond loopback without a secret it was given."""


def secrets_dir() -> Path:
    """$HEARTH_HOME/secrets (default .hearth/secrets in the project)."""
    from models.settings import data_home

    return data_home() / "secrets"


def secret_path(name: str) -> Path:
    return secrets_dir() / f"{name}.key"


def is_loopback(host: str) -> bool:
    """Whether a server bound to `host` is reachable only from this machine: True for 127.0.0.0/8,
    ::1 and 'localhost'; False for 0.0.0.0, '::' (every interface) and any other address or name.
    (models.runtime.is_loopback answers a different question, where a client may connect.)"""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def read_secret(name: str) -> str | None:
    """The stored secret `name`, or None when none was generated yet."""
    try:
        return secret_path(name).read_text().strip() or None
    except (FileNotFoundError, PermissionError):
        return None


def read_or_create_secret(name: str) -> tuple[str, bool]:
    """The stored secret `name`, generating it (32 random bytes, owner-only file) on first use.
    Returns (secret, created)."""
    path = secret_path(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        existing = read_secret(name)
        if existing is None:
            raise ValueError(f"The secret file {path} is empty or unreadable: delete it to generate a new one.") from None
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # someone widened it: keep it owner-only
        return existing, False
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token, True


def resolve_secret(name: str, given: str | None, host: str, fix: str) -> tuple[str, str]:
    """The secret a server on `host` uses, and a line to print about it.

    `given` (from a flag or environment variable) wins. Without one, a loopback server uses the
    stored secret (generated on first start, shown once); a server on any other address is
    refused with InsecureBindError, whose message names `fix`."""
    if given is not None and given.strip():
        return given.strip(), "using the secret you gave"
    if not is_loopback(host):
        raise InsecureBindError(
            f"Refusing to listen on {host} without a secret: anyone on the network could call it. "
            f"Give one ({fix}; generate it with `python -c \"import secrets; print(secrets.token_urlsafe(32))\"`), "
            "or listen on 127.0.0.1.")
    secret, created = read_or_create_secret(name)
    path = secret_path(name)
    if created:
        return secret, f"generated a secret, stored owner-only in {path} (shown once): {secret}"
    return secret, f"using the secret stored in {path}"


def client_key(url: str | None) -> str | None:
    """The key a client sends to an apps.serve on this machine's loopback when the spec names
    none: $HEARTH_API_KEY, else the key apps.serve stored on its first start. None for other hosts."""
    from urllib.parse import urlsplit

    host = urlsplit(url or "").hostname
    if not host or not is_loopback(host):
        return None
    return os.environ.get("HEARTH_API_KEY") or read_secret("serve")


def hash_key(key: str) -> str:
    """How keys are kept at rest: SHA-256 hex (keys are 32 random bytes, so no salt or stretching is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(given.encode(), expected.encode())
