"""Checks of the stack every graph runs on, each naming the exact fix for what is broken.

    python -m apps.doctor                   # prints them (see its docstring for the options)
    from graphs.stack_checks import run_checks
    run_checks(model="local", index_dir=".hearth/qdrant")   # -> [CheckResult(name, ok, detail, fix, seconds), ...]

Checks, in order: python environment, offline switches, bundled weights, chat model (load time,
decode tokens/s, one constrained tool call), embeddings (dimension, sentences/s), vector store
(a temporary collection is written, searched and dropped), checkpointer (one checkpoint written
and read back), network (nothing beyond loopback was contacted during the checks above, as
`models.netwatch`'s watcher saw it). Each check runs on its own, under a time limit, so one
failure never hides the others. The model checks (1-5) live in `models.checks`; the vector store,
checkpointer and network checks, and the runner, live here.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, TypedDict
from urllib.parse import urlsplit

from models.checks import (SETUP_FIX, CheckFailed, CheckResult, check_bundled_weights, check_chat_model,
                           check_embeddings, check_offline_switches, check_python_environment)
from models.netwatch import NetworkWatcher
from models.runtime import is_loopback


# Seconds each check may take before it is reported as hung (it keeps running in the background).
DEFAULT_TIMEOUTS = {
    "python environment": 240.0,
    "offline switches": 10.0,
    "bundled weights": 30.0,
    "chat model": 600.0,
    "embeddings": 300.0,
    "vector store": 90.0,
    "checkpointer": 90.0,
}


# --------------------------------------------------------------------------------------------
# 8. network: watched during the other checks, reported after them
# --------------------------------------------------------------------------------------------
WATCHER = NetworkWatcher()  # one per process: its audit hook cannot be removed

# destination fragment -> the switch that stops it (see models.runtime.OFFLINE_ENVIRONMENT)
_SWITCH_HINTS = [
    (("huggingface.co", "hf.co", "hf-mirror"), "HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1 (and HF_DATASETS_OFFLINE=1)"),
    (("smith.langchain", "langchain.com", "langsmith"), "LANGCHAIN_TRACING_V2=false and LANGSMITH_TRACING=false"),
    (("githubusercontent.com", "litellm"), "LITELLM_LOCAL_MODEL_COST_MAP=True"),
    (("openaipublic.blob.core.windows.net",), "TIKTOKEN_CACHE_DIR=<venv>/.../llama_index/core/_static/tiktoken_cache"),
    (("ragas", "explodinggradients"), "RAGAS_DO_NOT_TRACK=true"),
    (("langgraph",), "LANGGRAPH_CLI_NO_ANALYTICS=1 and LANGGRAPH_NO_VERSION_CHECK=1"),
    (("streamlit", "segment.io", "snowflake"), "STREAMLIT_BROWSER_GATHER_USAGE_STATS=false"),
    (("posthog", "telemetry", "scarf", "sentry"), "DO_NOT_TRACK=1 and ANONYMIZED_TELEMETRY=False"),
]


def _switch_for(destination: str) -> str | None:
    lowered = destination.lower()
    for fragments, switch in _SWITCH_HINTS:
        if any(f in lowered for f in fragments):
            return switch
    return None


def _configured_hosts(*locations: str | None) -> set[str]:
    """Hosts the user named on purpose (a model server, a Qdrant or PostgreSQL server)."""
    hosts: set[str] = set()
    for location in locations:
        if not location or "://" not in location:
            continue
        try:
            host = urlsplit(location).hostname
        except ValueError:
            continue
        if host and not is_loopback(host):
            hosts.add(host.lower())
    return hosts


def check_network(watcher: NetworkWatcher, configured: set[str]) -> CheckResult:
    """Pass when nothing beyond loopback was recorded, except servers the user named on purpose
    (`configured`: host names or addresses; a connection counts as theirs when its address is
    one of them or the same thread had just resolved one of their names)."""
    expected_hosts = {h.lower() for h in configured}
    unexpected: dict[tuple[str, str], set[str]] = {}
    expected: set[str] = set()
    for check, event, host, destination, via in list(watcher.outbound):
        if host in expected_hosts or (event != "getaddrinfo" and via in expected_hosts):
            expected.add(destination)
            continue
        unexpected.setdefault((event, destination), set()).add(check or "?")
    seen = f"{watcher.loopback_events} loopback socket event(s)"
    if expected:
        seen += f"; {len(expected)} to servers you named ({', '.join(sorted(expected)[:4])})"
    if not unexpected:
        return CheckResult("network", True, f"nothing beyond loopback during checks 1-7 ({seen})")
    listed = [f"{event} {dest} (during {', '.join(sorted(checks))})" for (event, dest), checks in unexpected.items()]
    switches = sorted({s for (_, dest) in unexpected for s in [_switch_for(dest)] if s})
    fix = ("Set " + "; ".join(switches) + " in the environment" if switches else
           "Set every switch in models.runtime.OFFLINE_ENVIRONMENT (and undo any override reported by "
           "'offline switches'); if the destination is a server you use on purpose, pass its URL explicitly")
    return CheckResult("network", False, f"{len(listed)} destination(s) beyond loopback: " + "; ".join(listed[:12]),
                       fix + ".")


# --------------------------------------------------------------------------------------------
# 6. vector store
# --------------------------------------------------------------------------------------------
_OPENED_CLIENTS: list = []  # closed by main() before exit: a local client closed at interpreter shutdown is noisy


def check_vector_store(index_dir: str | None = None) -> CheckResult:
    from qdrant_client.models import Distance, PointStruct, VectorParams

    from rag.knowledge_base import default_index_location
    from rag.store import QdrantStore, VectorStoreError, VectorStoreLockedError

    location = index_dir or default_index_location()
    is_server = location.startswith(("http://", "https://"))
    where = f"server {location}" if is_server else f"local folder {Path(location).expanduser().resolve()}"
    collection = f"doctor-{uuid.uuid4().hex[:8]}"
    try:
        store = QdrantStore.open(location, collection, dimension=4)
    except VectorStoreLockedError as exc:
        raise CheckFailed(f"{where} is locked by another process", str(exc)) from exc
    except VectorStoreError as exc:
        raise CheckFailed(f"{where}: {exc}", str(exc)) from exc
    except Exception as exc:  # noqa: BLE001
        fix = ("Start the Qdrant server at that URL (or fix the URL), or pass --index-dir FOLDER for local mode."
               if is_server else f"Make {location} a writable folder, or pass --index-dir with another folder.")
        raise CheckFailed(f"could not open {where}: {type(exc).__name__}: {exc}", fix) from exc
    client = store.client
    if all(c is not client for c in _OPENED_CLIENTS):
        _OPENED_CLIENTS.append(client)
    try:
        client.create_collection(collection, vectors_config=VectorParams(size=4, distance=Distance.COSINE))
        client.upsert(collection, wait=True, points=[
            PointStruct(id=str(uuid.uuid4()), vector=[1.0, 0.0, 0.0, 0.0],
                        payload={"text": "doctor point a", "source": "doctor", "chunk_index": 0}),
            PointStruct(id=str(uuid.uuid4()), vector=[0.0, 1.0, 0.0, 0.0],
                        payload={"text": "doctor point b", "source": "doctor", "chunk_index": 1}),
        ])
        hits = store.search([0.9, 0.1, 0.0, 0.0], k=2)
        if len(hits) != 2 or hits[0].text != "doctor point a":
            raise CheckFailed(f"{where}: search returned {[(h.text, round(h.score, 3)) for h in hits]}, expected "
                          "'doctor point a' first", "Reinstall qdrant-client (./dev setup) or upgrade the Qdrant server.")
    except CheckFailed:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CheckFailed(f"{where}: writing or searching a temporary collection failed: {type(exc).__name__}: {exc}",
                      "Check that the index folder is writable and not full, or that the server accepts writes.") from exc
    finally:
        try:
            client.delete_collection(collection)
        except Exception:  # noqa: BLE001 - reported below when it is still there
            pass
    if client.collection_exists(collection):
        raise CheckFailed(f"{where}: the temporary collection {collection!r} could not be deleted",
                      f"Delete it by hand: QdrantClient(...).delete_collection({collection!r}).")
    detail = f"{where}: upsert 2 points, search, drop {collection} ok"
    if client.collection_exists("handbook"):
        detail += f"; collection 'handbook' holds {client.count('handbook', exact=True).count} chunks"
    else:
        detail += "; no 'handbook' collection yet (python -m apps.ask indexes the sample handbook on first run)"
    return CheckResult("vector store", True, detail)


# --------------------------------------------------------------------------------------------
# 7. checkpointer
# --------------------------------------------------------------------------------------------
class _DoctorState(TypedDict):
    n: int


def describe_checkpoint_url(url: str) -> str:
    """Where checkpoints go, with any password redacted."""
    if url == ":memory:":
        return "in memory (lost when the process ends)"
    if url.startswith("sqlite:///") or url.endswith((".sqlite", ".db")):
        return f"sqlite {Path(url.removeprefix('sqlite:///')).expanduser().resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        user = f"{parts.username}{':***' if parts.password else ''}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        return f"postgres {user}{parts.hostname or 'localhost'}{port}{parts.path}"
    return "unknown backend"


def check_checkpointer(url: str | None = None) -> CheckResult:
    from langgraph.graph import END, START, StateGraph

    from graphs.checkpointing import default_checkpoint_url, open_checkpointer

    url = url or default_checkpoint_url()
    backend = describe_checkpoint_url(url)
    thread_id = f"doctor-{uuid.uuid4().hex[:8]}"
    try:
        with open_checkpointer(url) as saver:
            graph = StateGraph(_DoctorState)
            graph.add_node("bump", lambda state: {"n": state["n"] + 1})
            graph.add_edge(START, "bump")
            graph.add_edge("bump", END)
            app = graph.compile(checkpointer=saver)
            config = {"configurable": {"thread_id": thread_id}}
            try:
                app.invoke({"n": 41}, config)
                state = app.get_state(config)
                stored = saver.get_tuple(config)
            finally:
                try:
                    saver.delete_thread(thread_id)
                except Exception:  # noqa: BLE001 - older savers have no delete_thread
                    pass
    except Exception as exc:  # noqa: BLE001
        if url.startswith(("postgresql://", "postgres://")):
            fix = ("Start PostgreSQL and check the URL (user, password, host, port, database), "
                   "or use --checkpoints sqlite:///PATH.")
        elif url.startswith("sqlite:///") or url.endswith((".sqlite", ".db")):
            fix = "Make the folder writable (or pass --checkpoints sqlite:///another/path.sqlite)."
        else:
            fix = "Use --checkpoints sqlite:///PATH, postgresql://USER:PASSWORD@HOST:PORT/DB or :memory:."
        raise CheckFailed(f"{backend}: {type(exc).__name__}: {exc}", fix) from exc
    if state.values.get("n") != 42 or stored is None:
        raise CheckFailed(f"{backend}: wrote n=41 -> 42 but read back {state.values!r}",
                      "The checkpoint database may be corrupt: move it aside and run again.")
    return CheckResult("checkpointer", True, f"{backend}: checkpoint written and read back (thread {thread_id}, deleted)")


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
def _run_one(name: str, fn: Callable[[], CheckResult], timeout: float | None) -> CheckResult:
    """Run a check in a worker thread under a time limit; any exception becomes a failed result."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported, never raised
            outcome["error"] = exc

    started = time.perf_counter()
    worker = threading.Thread(target=target, name=f"doctor: {name}", daemon=True)
    worker.start()
    worker.join(timeout)
    seconds = round(time.perf_counter() - started, 3)
    if worker.is_alive():
        return CheckResult(name, False, f"no answer within {timeout:g} s (still running in the background)",
                           "Something hangs or is far too slow: run this check's step by hand, or look for another "
                           "process using all cores.", seconds)
    if "error" in outcome:
        exc = outcome["error"]
        if isinstance(exc, CheckFailed):
            return CheckResult(name, False, exc.detail, exc.fix, seconds)
        return CheckResult(name, False, f"{type(exc).__name__}: {exc}", SETUP_FIX, seconds)
    result = outcome["result"]
    result.name, result.seconds = name, seconds
    return result


def run_checks(model: str | None = None, embeddings: str | None = None, index_dir: str | None = None,
               checkpoints: str | None = None, *, timeouts: dict[str, float] | None = None,
               on_result: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """Run all checks in order and return their results (the network check last)."""
    limits = {**DEFAULT_TIMEOUTS, **(timeouts or {})}
    WATCHER.install()
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("python environment", check_python_environment),
        ("offline switches", check_offline_switches),
        ("bundled weights", check_bundled_weights),
        ("chat model", lambda: check_chat_model(model)),
        ("embeddings", lambda: check_embeddings(embeddings)),
        ("vector store", lambda: check_vector_store(index_dir)),
        ("checkpointer", lambda: check_checkpointer(checkpoints)),
    ]
    results: list[CheckResult] = []
    WATCHER.start()
    try:
        for name, fn in checks:
            WATCHER.current = name
            result = _run_one(name, fn, limits.get(name))
            results.append(result)
            if on_result:
                on_result(result)
    finally:
        WATCHER.stop()
        WATCHER.current = ""
    # servers the user named on purpose: traffic to them is expected, not a leak
    configured = _configured_hosts(_spec_url(model), _spec_url(embeddings), index_dir,
                                   checkpoints or os.environ.get("HEARTH_CHECKPOINTS"),
                                   None if index_dir else os.environ.get("QDRANT_URL"))
    started = time.perf_counter()
    network = check_network(WATCHER, configured)
    network.seconds = round(time.perf_counter() - started, 3)
    results.append(network)
    if on_result:
        on_result(network)
    return results


def _spec_url(spec: str | None) -> str | None:
    if not spec:
        return None
    try:
        from models.spec import EMBEDDING_PROVIDERS, PROVIDERS, parse_model_spec

        parsed = parse_model_spec(spec, providers=tuple(set(PROVIDERS) | set(EMBEDDING_PROVIDERS)))
    except Exception:  # noqa: BLE001 - the model check reports a bad spec
        return None
    if parsed.provider == "ollama" and not parsed.url:
        return os.environ.get("OLLAMA_HOST")
    return parsed.url


def close_clients() -> None:
    """Close the vector-store clients the checks opened (a local client closed at interpreter exit is noisy)."""
    while _OPENED_CLIENTS:
        try:
            _OPENED_CLIENTS.pop().close()
        except Exception:  # noqa: BLE001
            pass
