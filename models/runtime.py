"""Process-wide settings that keep the framework offline, quiet and fast on a small CPU.

`configure_runtime()` runs when `models` is imported (it only sets environment variables, it
loads nothing). Values a user has already set are kept.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

# Every switch that stops a dependency from phoning home (see ../shared/MACHINE.md).
OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "RAGAS_DO_NOT_TRACK": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "1",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    "ANONYMIZED_TELEMETRY": "False",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    "TOKENIZERS_PARALLELISM": "false",
    # llama.cpp's OpenMP threads spin while waiting; with one core busy elsewhere (torch
    # embeddings, another process) decode collapsed from ~44 to <1 tok/s. PASSIVE makes
    # them sleep instead. It must be set before libgomp initialises.
    "OMP_WAIT_POLICY": "PASSIVE",
}


def tiktoken_cache_dir() -> str | None:
    """tiktoken's encodings ship inside llama-index-core; found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "_static" / "tiktoken_cache"
    return str(folder) if folder.is_dir() else None


def configure_runtime() -> None:
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        try:
            folder = tiktoken_cache_dir()
        except (ImportError, ValueError):
            folder = None
        if folder:
            os.environ["TIKTOKEN_CACHE_DIR"] = folder
    if os.environ.get("HEARTH_TRACING"):  # spans of every graph run (models/tracing.py); off costs nothing
        from models.tracing import configure_tracing

        configure_tracing()


def default_threads() -> int:
    """Threads for in-process inference: every core, at most 4 (decode is memory-bound)."""
    return max(1, min(4, os.cpu_count() or 1))


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}


def is_loopback(host) -> bool:
    """True for loopback (and unspecified) addresses and names; a hostname that needs DNS is not.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1", "10.0.0.1", "pypi.org")]
    [True, True, True, True, False, False]
    """
    if host is None:
        return True
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode(errors="replace")
    host = str(host).strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return address.is_loopback or address.is_unspecified
