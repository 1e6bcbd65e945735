"""llama.cpp in-process: the embedded default (`local`) and any GGUF file (`gguf:PATH`).

    >>> from models import load_chat_model
    >>> llm = load_chat_model("local")                       # bundled SmolLM2-135M-Instruct
    >>> llm.invoke("Say hi").content                          # doctest: +SKIP

One `Llama` is opened per (file, context, threads) and shared by every chat model that names
it; calls into it are serialised because a llama.cpp context is not re-entrant.
"""

from __future__ import annotations

import atexit
import gc
import json
import sys
import warnings
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from pydantic import PrivateAttr

from models.embedded import EmbeddedChatModel
from models.runtime import default_threads
from models.spec import ModelSpecError


class ContextWindowError(ValueError):
    """The prompt does not fit the model's context window."""


_OPEN: dict[tuple, tuple] = {}
_OPEN_LOCK = threading.Lock()


def open_llama(model_path: str, n_ctx: int, n_threads: int, logits_all: bool = False, lora_path: str | None = None):
    """Load a GGUF once per (path, context, threads, logits_all, LoRA adapter); returns (Llama, lock for its calls).
    `lora_path`, a GGUF LoRA adapter (`training.export RUN --lora-gguf`), is applied over the weights at load time.
    `logits_all` keeps every position's logits (n_ctx x vocabulary floats: about 800 MB for
    SmolLM2 at 4096), which prompt log-probabilities need; it is opened only when asked for."""
    key = (model_path, n_ctx, n_threads, logits_all, lora_path)
    with _OPEN_LOCK:
        if key not in _OPEN:
            _OPEN[key] = _load_llama(model_path, n_ctx, n_threads, logits_all, lora_path)
        return _OPEN[key]


def close_all_llamas() -> None:
    """Free every llama.cpp model of this process before interpreter shutdown: llama-cpp-python's
    own finaliser runs after its module globals are gone and prints "TypeError: 'NoneType' object
    is not callable" from free_model. Covers the shared models opened here and any other `Llama`
    still alive (vocabulary-only tokenizers, benchmarks' raw models)."""
    with _OPEN_LOCK:
        opened = [llama for llama, _ in _OPEN.values()]
        _OPEN.clear()
    llama_cpp = sys.modules.get("llama_cpp")
    with warnings.catch_warnings():  # isinstance on some torch module objects warns (reduce_op)
        warnings.simplefilter("ignore")
        alive = [o for o in gc.get_objects() if isinstance(o, llama_cpp.Llama)] if llama_cpp is not None else []
    for llama in {id(x): x for x in opened + alive}.values():
        try:
            llama.close()
        except Exception:  # noqa: BLE001 - shutting down: nothing left to report to
            pass


def close_at_exit() -> None:
    """(Re-)register `close_all_llamas` so it runs first at exit, before any hook llama_cpp itself
    registered when it was imported (atexit runs the last registered first)."""
    atexit.unregister(close_all_llamas)
    atexit.register(close_all_llamas)


close_at_exit()


def _check_gguf(path: Path, missing: str, not_gguf: str) -> None:
    """Refuse, with the message given, a file that is not there or does not start with GGUF's magic bytes."""
    if not path.is_file():
        raise ModelSpecError(missing)
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ModelSpecError(not_gguf)


def _load_llama(model_path: str, n_ctx: int, n_threads: int, logits_all: bool = False, lora_path: str | None = None):
    path = Path(model_path)
    _check_gguf(path, f"Model file {model_path!r} does not exist. Check the path in the 'gguf:' spec.",
                f"{model_path!r} is not a GGUF file (bad magic bytes). Convert it with llama.cpp's convert_hf_to_gguf.py.")
    if lora_path is not None:
        _check_gguf(Path(lora_path), f"LoRA adapter {lora_path!r} does not exist: write it with "
                    "`python -m training.export RUN --lora-gguf` and pass its path as ?lora=",
                    f"{lora_path!r} is not a GGUF LoRA adapter (bad magic bytes): convert the run's "
                    "adapter with `python -m training.export RUN --lora-gguf`")
    try:
        from llama_cpp import Llama
    except ImportError as exc:  # pragma: no cover - setup problem
        raise ModelSpecError("llama-cpp-python is not installed. Run `./dev setup`.") from exc
    close_at_exit()
    try:
        llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                      n_batch=512, logits_all=logits_all, lora_path=lora_path, verbose=False)
    except ValueError as exc:
        raise ModelSpecError(f"llama.cpp could not load {model_path!r}: {exc}. The file may be truncated; download or convert it again.") from exc
    return llama, threading.Lock()


@lru_cache(maxsize=64)
def _grammar_text(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return json_schema_to_gbnf(schema_json)


def _grammar(schema: dict | None):
    if schema is None:
        return None
    from llama_cpp import LlamaGrammar

    # Key order is kept: the grammar emits properties in schema order ("name" before "arguments").
    return LlamaGrammar.from_string(_grammar_text(json.dumps(schema)), verbose=False)


class LlamaCppChatModel(EmbeddedChatModel):
    """A LangChain chat model over a GGUF file, run by llama.cpp in this process."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int = 0  # 0: every core, at most 4
    seed: int = 0
    lora_path: str | None = None  # a GGUF LoRA adapter applied over model_path at load time

    _load_seconds: float | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama.cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "lora_path": self.lora_path, "n_ctx": self.n_ctx, "n_threads": self.threads}

    @property
    def threads(self) -> int:
        return self.n_threads or default_threads()

    @property
    def llama(self):
        llama, _ = self._open()
        return llama

    def _open(self):
        start = time.perf_counter()
        opened = open_llama(self.model_path, self.n_ctx, self.threads, lora_path=self.lora_path)
        if self._load_seconds is None:
            self._load_seconds = time.perf_counter() - start
        return opened

    def complete_text(self, prompt: str | list[int], **options) -> dict:
        """A raw text completion, with log-probabilities on request: see `complete_text`."""
        return complete_text(self, prompt, **options)

    def tokenize(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """The model's own token ids for `text` (what /v1/completions accepts as a prompt)."""
        llama, lock = self._open()
        with lock:
            return llama.tokenize(text.encode("utf-8"), add_bos=add_special_tokens, special=True)

    def detokenize(self, ids: list[int]) -> str:
        llama, lock = self._open()
        with lock:
            return llama.detokenize(ids, special=True).decode("utf-8", errors="replace")

    def tokenizer_info(self) -> dict:
        """Special tokens and chat template, as vLLM's /tokenizer_info reports them."""
        llama, lock = self._open()
        with lock:
            def text(token_id: int) -> str | None:
                return llama.detokenize([token_id], special=True).decode("utf-8", errors="replace") if token_id >= 0 else None

            return {"eos_token": text(llama.token_eos()), "bos_token": text(llama.token_bos()), "pad_token": None,
                    "chat_template": llama.metadata.get("tokenizer.chat_template"),
                    "model_max_length": self.n_ctx}

    def _call(self, messages: list[dict], json_schema: dict | None, max_tokens: int, temperature: float,
              stop: list[str] | None, stream: bool):
        llama, lock = self._open()
        kwargs = dict(messages=messages, max_tokens=max_tokens, temperature=temperature, stop=stop or [],
                      grammar=_grammar(json_schema), stream=stream, seed=self.seed)
        return llama, lock, kwargs

    def _complete(self, messages, *, json_schema, max_tokens, temperature, stop):
        llama, lock, kwargs = self._call(messages, json_schema, max_tokens, temperature, stop, stream=False)
        with lock:
            try:
                result = llama.create_chat_completion(**kwargs)
            except ValueError as exc:
                raise _context_error(exc, self.n_ctx) from exc
        choice = result["choices"][0]
        meta = {"model": Path(self.model_path).name, "finish_reason": choice.get("finish_reason"),
                "usage": result.get("usage", {})}
        return choice["message"].get("content") or "", meta

    def _complete_stream(self, messages, *, json_schema, max_tokens, temperature, stop) -> Iterator[str]:
        llama, lock, kwargs = self._call(messages, json_schema, max_tokens, temperature, stop, stream=True)
        with lock:
            try:
                for part in llama.create_chat_completion(**kwargs):
                    piece = part["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except ValueError as exc:
                raise _context_error(exc, self.n_ctx) from exc


def complete_text(model: "LlamaCppChatModel", prompt: str | list[int], *, max_tokens: int = 16,
                  temperature: float | None = None, stop: list[str] | None = None, logprobs: int | None = None,
                  echo: bool = False, seed: int | None = None) -> dict:
    """A raw text completion (no chat template) as one OpenAI `text_completion` choice:
    {"text", "logprobs", "finish_reason"} plus "usage". `prompt` is text or token ids. With
    `logprobs=k` every token's log-probability and its k most likely alternatives come back, the
    prompt's too when `echo` is set (the first token has none): what lm-eval's loglikelihood
    requests read. Deterministic at temperature 0.

        >>> from models import load_chat_model                                   # doctest: +SKIP
        >>> complete_text(load_chat_model("local"), "The capital of France is", max_tokens=1, logprobs=1,
        ...               echo=True)["logprobs"]["token_logprobs"][:2]            # doctest: +SKIP
        [None, -9.2...]
    """
    llama, lock = open_llama(model.model_path, model.n_ctx, model.threads, logits_all=logprobs is not None,
                             lora_path=model.lora_path)
    # The prompt is echoed here, not by llama-cpp-python: its echo fails on token-id prompts (it adds
    # the id list to the text), and for text prompts it scores the prompt from the wrong logits rows
    # and leaves the generated token out of `tokens` (measured with 0.3.36).
    echo_ids = None
    if echo:
        echo_ids = list(prompt) if not isinstance(prompt, str) else \
            llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        prompt = echo_ids
    with lock:
        try:
            result = llama.create_completion(prompt=prompt, max_tokens=max_tokens, stop=stop or [],
                                             temperature=model.temperature if temperature is None else temperature,
                                             logprobs=logprobs, echo=False,
                                             seed=model.seed if seed is None else seed)
        except ValueError as exc:
            raise _context_error(exc, model.n_ctx) from exc
        choice = result["choices"][0]
        if echo_ids is not None:
            choice = _echoed(llama, echo_ids, choice, logprobs)

    return {"text": choice["text"], "logprobs": _plain(choice.get("logprobs")),
            "finish_reason": choice.get("finish_reason"), "usage": result.get("usage") or {}}


def _echoed(llama, ids: list[int], choice: dict, logprobs: int | None) -> dict:
    """`choice` with the prompt `ids` in front: their text and, with `logprobs`, each token's
    log-probability given the tokens before it (none for the first), read from the logits
    llama.cpp kept for every position (row i predicts token i + 1)."""
    import numpy as np
    from llama_cpp import Llama

    pieces = [llama.detokenize([t]).decode("utf-8", errors="ignore") for t in ids]
    text = llama.detokenize(ids).decode("utf-8", errors="ignore") + choice["text"]
    if logprobs is None:
        return {**choice, "text": text}
    token_logprobs: list = [None]
    top_logprobs: list = [None]
    for j in range(1, len(ids)):
        row = Llama.logits_to_logprobs(llama.scores[j - 1])
        best = np.argpartition(-row, logprobs)[:logprobs] if logprobs else []
        top = {llama.detokenize([int(i)]).decode("utf-8", errors="ignore"): float(row[i]) for i in best}
        top[pieces[j]] = float(row[ids[j]])
        token_logprobs.append(float(row[ids[j]]))
        top_logprobs.append(top)
    generated = choice.get("logprobs") or {"tokens": [], "token_logprobs": [], "top_logprobs": []}
    tokens = pieces + list(generated["tokens"])
    offsets, at = [], 0
    for piece in tokens:
        offsets.append(at)
        at += len(piece)
    return {**choice, "text": text,
            "logprobs": {"tokens": tokens, "text_offset": offsets,
                         "token_logprobs": token_logprobs + list(generated["token_logprobs"]),
                         "top_logprobs": top_logprobs + list(generated["top_logprobs"])}}


def _plain(value):
    """llama-cpp-python's logprobs hold numpy float32s; JSON (and callers) want Python floats."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return float(value) if hasattr(value, "dtype") else value


def _context_error(exc: ValueError, n_ctx: int) -> Exception:
    if "context window" in str(exc) or "exceed" in str(exc):
        return ContextWindowError(
            f"The prompt does not fit the model's {n_ctx}-token context ({exc}). Ask a shorter question, "
            f"retrieve fewer chunks, or raise it in the spec, e.g. 'local?n_ctx={n_ctx * 2}'."
        )
    return exc


def complete_with_grammar(model, messages, gbnf: str, max_tokens: int = 256, stop: list[str] | None = None) -> str:
    """Reply text decoded under a raw GBNF grammar (only text the grammar accepts can come out).

    `model` is a `LlamaCppChatModel` (what `load_chat_model("local")` or `"gguf:PATH"` returns);
    `messages` is a prompt string or role/content dicts. Greedy, with the model's seed.

        >>> from models import load_chat_model                          # doctest: +SKIP
        >>> complete_with_grammar(load_chat_model("local"), "Pick a colour.", 'root ::= "red" | "blue"')  # doctest: +SKIP
        'red'
    """
    from llama_cpp import LlamaGrammar

    if not isinstance(model, LlamaCppChatModel):
        raise TypeError(f"complete_with_grammar needs a llama.cpp model (spec 'local' or 'gguf:PATH'), got {type(model).__name__}.")
    chat = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
    llama, lock = model._open()
    with lock:
        try:
            result = llama.create_chat_completion(messages=chat, max_tokens=max_tokens, temperature=0.0, stop=stop or [],
                                                  grammar=LlamaGrammar.from_string(gbnf, verbose=False), seed=model.seed)
        except ValueError as exc:
            raise _context_error(exc, model.n_ctx) from exc
    return result["choices"][0]["message"].get("content") or ""
