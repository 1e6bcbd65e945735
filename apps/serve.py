"""Any configured model as an OpenAI-compatible HTTP server.

    python -m apps.serve                                    # local chat + local embeddings on :8008
    python -m apps.serve --model local --embeddings local --host 127.0.0.1 --port 8008
    python -m apps.serve --model ollama:qwen2.5:7b --api-key s3cret
    HEARTH_MODEL=gguf:/models/qwen.gguf python -m apps.serve  # defaults: HEARTH_MODEL, HEARTH_EMBEDDINGS

Endpoints: GET /v1/models, POST /v1/chat/completions (streaming, tools, response_format),
POST /v1/embeddings (float or base64), GET /health. The model id to send is the spec
("local" for the default); any `model` value is accepted and echoed back.

    curl http://127.0.0.1:8008/v1/chat/completions -H 'Content-Type: application/json' \\
         -d '{"model": "local", "messages": [{"role": "user", "content": "Say hi"}]}'

From LangChain:

    from langchain_openai import ChatOpenAI
    llm = ChatOpenAI(model="local", base_url="http://127.0.0.1:8008/v1", api_key="not-needed")

From this project's own providers:

    from models import load_chat_model, load_embeddings
    llm = load_chat_model("openai:local@http://127.0.0.1:8008/v1")
    emb = load_embeddings("openai:local@http://127.0.0.1:8008/v1")
    # with --api-key KEY: "openai:local@http://127.0.0.1:8008/v1?api_key=KEY"

With the in-process models (`local`, `gguf:`) tool calls and response_format are decoded
under a grammar, so a client always gets schema-valid JSON back.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import json
import logging
import os
import struct
import sys
import threading
import time
import uuid
from typing import Any, AsyncIterator, Callable, Iterator, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("apps.serve")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8008
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")


# -- errors ---------------------------------------------------------------------------------
class APIError(Exception):
    """An error answered in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def _model_error(exc: BaseException) -> APIError:
    """An exception raised while loading or running a model, as the error a client should see."""
    if isinstance(exc, APIError):
        return exc
    from models.llamacpp import ContextWindowError
    from models.spec import ModelSpecError

    if isinstance(exc, ContextWindowError):
        return APIError(400, str(exc), param="messages", code="context_length_exceeded")
    if isinstance(exc, ModelSpecError):
        return APIError(503, f"The model cannot be loaded: {exc}", type="server_error", code="model_not_available")
    if isinstance(exc, json.JSONDecodeError):
        return APIError(500, f"The model's constrained reply was not complete JSON ({exc}); it was probably cut off "
                             "by max_tokens. Raise max_tokens (or max_completion_tokens).",
                        type="server_error", code="incomplete_output")
    logger.exception("model call failed", exc_info=exc)
    return APIError(500, f"The model failed: {type(exc).__name__}: {exc}", type="server_error")


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "Invalid request.", None
    parts, params = [], []
    for err in errors[:5]:
        loc = [str(x) for x in err.get("loc", ()) if x != "body"]
        param = ".".join(loc) or None
        if err.get("type") == "json_invalid":
            detail = (err.get("ctx") or {}).get("error", "")
            parts.append(f"The request body is not valid JSON ({detail}).".replace(" ().", "."))
            param = None
        elif err.get("type") == "missing" and not loc:
            parts.append("The request needs a JSON body.")
        else:
            parts.append(f"{param}: {err.get('msg')}" if param else str(err.get("msg")))
        params.append(param)
    return " ".join(parts) if len(parts) == 1 else "; ".join(parts), params[0]


# -- request bodies -------------------------------------------------------------------------
class _Lenient(BaseModel):
    """Unknown fields (user, top_p, logprobs, metadata, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")


class FunctionCallIn(_Lenient):
    name: str
    arguments: str = "{}"


class ToolCallIn(_Lenient):
    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCallIn


class ChatMessageIn(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None


class FunctionDefinition(_Lenient):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDefinition(_Lenient):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatCompletionRequest(_Lenient):
    model: str | None = None
    messages: list[ChatMessageIn] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    n: int | None = 1


class EmbeddingRequest(_Lenient):
    model: str | None = None
    input: str | list[Any]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)


# -- models, loaded on first use ------------------------------------------------------------
def display_name(spec: str) -> str:
    """The model id clients see: the spec itself ('local' for 'local'), without any api_key."""
    spec = (spec or "local").strip()
    if "?" not in spec:
        return spec
    base, query = spec.split("?", 1)
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "api_key"]
    return f"{base}?{urlencode(kept)}" if kept else base


class ServedModels:
    """The chat model and embeddings behind the server. Nothing loads until a request needs it."""

    def __init__(self, model_spec: str, embeddings_spec: str, chat_model: Any = None, embeddings: Any = None):
        self.model_spec = model_spec
        self.embeddings_spec = embeddings_spec
        self.chat_id = display_name(model_spec)
        self.embeddings_id = display_name(embeddings_spec)
        self._chat = chat_model
        self._embeddings = embeddings
        self._lock = threading.Lock()

    @property
    def chat_loaded(self) -> bool:
        return self._chat is not None

    @property
    def embeddings_loaded(self) -> bool:
        return self._embeddings is not None

    def chat(self):
        if self._chat is None:
            with self._lock:
                if self._chat is None:
                    from models import load_chat_model

                    self._chat = load_chat_model(self.model_spec)
        return self._chat

    def embeddings(self):
        if self._embeddings is None:
            with self._lock:
                if self._embeddings is None:
                    from models import load_embeddings

                    self._embeddings = load_embeddings(self.embeddings_spec)
        return self._embeddings


async def _load(getter: Callable[[], Any], spec: str, flag: str):
    from models.spec import ModelSpecError

    try:
        return await run_in_threadpool(getter)
    except ModelSpecError as exc:
        raise APIError(503, f"The model {spec!r} cannot be loaded: {exc} "
                            f"Restart the server with a working {flag} spec.",
                       type="server_error", code="model_not_available") from exc
    except (ImportError, OSError) as exc:
        raise APIError(503, f"The model {spec!r} cannot be loaded: {type(exc).__name__}: {exc}. "
                            f"Run `./dev setup`, or restart the server with another {flag} spec.",
                       type="server_error", code="model_not_available") from exc


# -- OpenAI <-> LangChain -------------------------------------------------------------------
def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content
                   if isinstance(p, str) or p.get("type") in (None, "text", "input_text", "output_text"))


def to_langchain_messages(messages: list[ChatMessageIn]) -> list:
    """OpenAI chat messages as LangChain messages (assistant tool calls with parsed arguments)."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    out: list = []
    tool_names: dict[str, str] = {}
    for i, m in enumerate(messages):
        if m.role in ("system", "developer"):
            out.append(SystemMessage(content=_text(m.content)))
        elif m.role == "user":
            content = m.content if m.content is not None else ""
            out.append(HumanMessage(content=content, **({"name": m.name} if m.name else {})))
        elif m.role == "assistant":
            calls = []
            for j, call in enumerate(m.tool_calls or []):
                try:
                    args = json.loads(call.function.arguments or "{}")
                except json.JSONDecodeError as exc:
                    raise APIError(400, f"messages[{i}].tool_calls[{j}].function.arguments is not valid JSON: {exc}",
                                   param=f"messages.{i}.tool_calls.{j}.function.arguments") from exc
                if not isinstance(args, dict):
                    raise APIError(400, f"messages[{i}].tool_calls[{j}].function.arguments must be a JSON object.",
                                   param=f"messages.{i}.tool_calls.{j}.function.arguments")
                call_id = call.id or f"call_{uuid.uuid4().hex[:24]}"
                tool_names[call_id] = call.function.name
                calls.append({"name": call.function.name, "args": args, "id": call_id, "type": "tool_call"})
            out.append(AIMessage(content=_text(m.content), tool_calls=calls))
        else:  # tool
            if not m.tool_call_id:
                raise APIError(400, f"messages[{i}] has role 'tool' but no tool_call_id.",
                               param=f"messages.{i}.tool_call_id")
            name = m.name or tool_names.get(m.tool_call_id)
            out.append(ToolMessage(content=_text(m.content), tool_call_id=m.tool_call_id,
                                   **({"name": name} if name else {})))
    return out


def _tool_choice(body: ChatCompletionRequest) -> Any:
    """The request's tool_choice in LangChain's spelling, checked against the tools sent."""
    choice = body.tool_choice
    if choice is None:
        return None
    if not body.tools:
        raise APIError(400, "tool_choice is only allowed when tools are specified.", param="tool_choice")
    names = [t.function.name for t in body.tools]
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if not name:
            raise APIError(400, 'tool_choice must be "none", "auto", "required" or '
                                '{"type": "function", "function": {"name": ...}}.', param="tool_choice")
    elif choice in ("none", "auto"):
        return choice
    elif choice in ("required", "any"):
        return "any"
    else:
        name = choice
    if name not in names:
        raise APIError(400, f"tool_choice names the tool {name!r}, which is not one of the tools sent: {names}.",
                       param="tool_choice")
    return name


def _response_format(body: ChatCompletionRequest) -> dict | None:
    fmt = body.response_format
    if not fmt:
        return None
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return fmt
    if kind == "json_schema":
        inner = fmt.get("json_schema")
        if not isinstance(inner, dict) or not isinstance(inner.get("schema"), dict):
            raise APIError(400, 'response_format of type "json_schema" needs {"json_schema": {"name": ..., '
                                '"schema": {...}}}.', param="response_format.json_schema")
        return fmt
    raise APIError(400, f"response_format type {kind!r} is not supported: use \"text\", \"json_object\" or "
                        "\"json_schema\".", param="response_format.type")


def configure(model: Any, body: ChatCompletionRequest):
    """The model with the request's tools, response_format and sampling options bound."""
    runnable = model
    choice = _tool_choice(body)
    if body.tools:
        tools = [t.model_dump(exclude_none=True) for t in body.tools]
        extra = {} if body.parallel_tool_calls is None else {"parallel_tool_calls": body.parallel_tool_calls}
        try:
            runnable = model.bind_tools(tools, tool_choice=choice, **extra)
        except NotImplementedError as exc:
            raise APIError(400, f"The served model {type(model).__name__} does not support tools.",
                           param="tools") from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise APIError(400, f"The tools could not be bound: {exc}", param="tools") from exc
    kwargs: dict[str, Any] = {}
    fmt = _response_format(body)
    if fmt is not None:
        kwargs["response_format"] = fmt
    if body.temperature is not None:
        kwargs["temperature"] = body.temperature
    max_tokens = body.max_completion_tokens or body.max_tokens
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    if body.stop:
        kwargs["stop"] = [body.stop] if isinstance(body.stop, str) else list(body.stop)
    if body.seed is not None:
        kwargs["seed"] = body.seed
    return runnable.bind(**kwargs) if kwargs else runnable


def _finish_reason(reported: Any, has_tool_calls: bool) -> str:
    if has_tool_calls:
        return "tool_calls"
    return reported if reported in FINISH_REASONS else "stop"


def _usage(usage_metadata: dict | None) -> dict | None:
    if not usage_metadata:
        return None
    prompt = int(usage_metadata.get("input_tokens") or 0)
    completion = int(usage_metadata.get("output_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": int(usage_metadata.get("total_tokens") or prompt + completion)}


def _approx_tokens(text: str) -> int:
    return len(text.split())


def completion_body(message: Any, *, completion_id: str, model: str, created: int) -> dict:
    """An AIMessage as an OpenAI chat.completion object."""
    calls = [
        {"id": c.get("id") or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
         "function": {"name": c["name"], "arguments": json.dumps(c.get("args") or {})}}
        for c in (getattr(message, "tool_calls", None) or [])
    ]
    text = _text(message.content)
    out_message: dict[str, Any] = {"role": "assistant", "content": text if (text or not calls) else None}
    if calls:
        out_message["tool_calls"] = calls
    meta = getattr(message, "response_metadata", None) or {}
    finish = _finish_reason(meta.get("finish_reason") or meta.get("done_reason"), bool(calls))
    body = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": out_message, "logprobs": None,
                     "finish_reason": finish}],
    }
    usage = _usage(getattr(message, "usage_metadata", None))
    if usage:
        body["usage"] = usage
    return body


# -- streaming ------------------------------------------------------------------------------
_END = object()


class _ThreadStream:
    """Runs a blocking iterator in one dedicated thread and hands its items to the event loop.

    One thread for the whole iteration (not one threadpool hop per item) keeps LangChain's
    context variables and llama.cpp's lock in the thread that set them up."""

    def __init__(self, make_iterator: Callable[[], Iterator[Any]]):
        self._make = make_iterator
        self._queue: asyncio.Queue = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="serve-stream", daemon=True)
        self._thread.start()

    def _put(self, kind: str, value: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop is gone (server shut down)
            self._stop.set()

    def _produce(self) -> None:
        iterator = None
        try:
            iterator = iter(self._make())
            for item in iterator:
                if self._stop.is_set():
                    break
                self._put("item", item)
        except BaseException as exc:  # noqa: BLE001 - handed to the event loop
            self._put("error", exc)
        else:
            self._put("done", None)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001
                    pass

    async def next(self) -> Any:
        """The next item, `_END` when exhausted; re-raises the producer's exception."""
        kind, value = await self._queue.get()
        if kind == "error":
            raise value
        return _END if kind == "done" else value

    def cancel(self) -> None:
        self._stop.set()


def _sse(data: dict | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


def _tool_call_deltas(chunk: Any, seen: dict[int, str]) -> list[dict]:
    """OpenAI tool_calls deltas for a LangChain chunk (tool_call_chunks, or whole tool_calls)."""
    pieces = getattr(chunk, "tool_call_chunks", None)
    if not pieces:
        pieces = [{"name": c["name"], "args": json.dumps(c.get("args") or {}), "id": c.get("id"), "index": i}
                  for i, c in enumerate(getattr(chunk, "tool_calls", None) or [])]
    deltas = []
    for piece in pieces:
        index = piece.get("index")
        if index is None:
            index = len(seen) if piece.get("name") else max(seen, default=0)
        if index not in seen:
            seen[index] = piece.get("id") or f"call_{uuid.uuid4().hex[:24]}"
            deltas.append({"index": index, "id": seen[index], "type": "function",
                           "function": {"name": piece.get("name") or "", "arguments": piece.get("args") or ""}})
        else:
            function: dict[str, Any] = {"arguments": piece.get("args") or ""}
            if piece.get("name"):
                function["name"] = piece["name"]
            deltas.append({"index": index, "function": function})
    return deltas


async def stream_completion(runnable: Any, messages: list, body: ChatCompletionRequest, *, completion_id: str,
                            model: str, created: int):
    """A StreamingResponse of chat.completion.chunk events, or an error response when the model
    fails before its first chunk (load errors, prompt too long)."""
    from langchain_core.messages.ai import add_usage

    stream = _ThreadStream(lambda: runnable.stream(messages))
    try:
        first = await stream.next()
    except BaseException as exc:
        return _model_error(exc).response()
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    max_tokens = body.max_completion_tokens or body.max_tokens

    def frame(delta: dict, finish_reason: str | None = None) -> bytes:
        return _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                     "system_fingerprint": None,
                     "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]})

    async def events() -> AsyncIterator[bytes]:
        seen: dict[int, str] = {}
        usage_metadata = None
        reported_finish = None
        pieces = 0
        text_out: list[str] = []
        try:
            yield frame({"role": "assistant", "content": ""})
            chunk = first
            while chunk is not _END:
                text = _text(chunk.content)
                if text:
                    pieces += 1
                    text_out.append(text)
                    yield frame({"content": text})
                deltas = _tool_call_deltas(chunk, seen)
                if deltas:
                    yield frame({"tool_calls": deltas})
                if getattr(chunk, "usage_metadata", None):
                    usage_metadata = add_usage(usage_metadata, chunk.usage_metadata)
                meta = getattr(chunk, "response_metadata", None) or {}
                reported_finish = meta.get("finish_reason") or meta.get("done_reason") or reported_finish
                chunk = await stream.next()
        except BaseException as exc:
            if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
                raise
            yield _sse(_model_error(exc).body())
            return
        finally:
            stream.cancel()
        if reported_finish is None and max_tokens and pieces >= max_tokens:
            reported_finish = "length"  # in-process models stream one token per chunk
        yield frame({}, _finish_reason(reported_finish, bool(seen)))
        if include_usage:
            usage = _usage(usage_metadata)
            if usage is None:  # approximate: one chunk per token, prompt words for prompt tokens
                prompt = sum(_approx_tokens(_text(m.content)) for m in messages)
                usage = {"prompt_tokens": prompt, "completion_tokens": pieces, "total_tokens": prompt + pieces}
            yield _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                        "system_fingerprint": None, "choices": [], "usage": usage})
        yield _sse("[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# -- embeddings -----------------------------------------------------------------------------
def _embedding_texts(value: str | list[Any]) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not value:
        raise APIError(400, "input must not be empty.", param="input")
    if all(isinstance(v, str) for v in value):
        return list(value)
    raise APIError(400, "This server embeds text, not token ids: send `input` as a string or a list of strings. "
                        "(LangChain: OpenAIEmbeddings(..., check_embedding_ctx_length=False); "
                        "load_embeddings('openai:NAME@URL') already does.)", param="input")


def _base64_floats(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


# -- the app --------------------------------------------------------------------------------
def create_app(model_spec: str = "local", embeddings_spec: str = "local", api_key: str | None = None, *,
               chat_model: Any = None, embeddings: Any = None) -> FastAPI:
    """The FastAPI app. Models load on the first request that needs them (through
    `models.load_chat_model` / `models.load_embeddings`), unless `chat_model` / `embeddings`
    objects are given (tests inject fakes this way)."""
    served = ServedModels(model_spec, embeddings_spec, chat_model, embeddings)
    app = FastAPI(title="hearth OpenAI-compatible server", version="1", docs_url="/docs", redoc_url=None)
    app.state.served = served

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError):
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        message, param = _validation_message(exc)
        return APIError(400, message, param=param).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException):
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return APIError(exc.status_code, str(exc.detail), type=kind, headers=getattr(exc, "headers", None)).response()

    async def check_api_key(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise APIError(401, "Missing API key: send the header 'Authorization: Bearer KEY' "
                                "(the key given to apps.serve --api-key).", type="invalid_request_error",
                           code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(token.strip().encode(), api_key.encode()):
            raise APIError(401, "Incorrect API key provided.", type="invalid_request_error", code="invalid_api_key",
                           headers={"WWW-Authenticate": "Bearer"})

    auth = [Depends(check_api_key)]
    started = int(time.time())

    def model_entries() -> list[dict]:
        entries: dict[str, dict] = {}
        for model_id, kind in ((served.chat_id, "chat"), (served.embeddings_id, "embeddings")):
            entry = entries.setdefault(model_id, {"id": model_id, "object": "model", "created": started,
                                                  "owned_by": "hearth", "capabilities": []})
            entry["capabilities"].append(kind)
        return list(entries.values())

    def requested(name: str | None, default: str) -> str:
        if name and name not in (served.chat_id, served.embeddings_id):
            logger.info("request names model %r; serving %r", name, default)
        return name or default

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": served.chat_id, "embeddings": served.embeddings_id,
                "model_loaded": served.chat_loaded, "embeddings_loaded": served.embeddings_loaded}

    @app.get("/v1/models", dependencies=auth)
    async def list_models() -> dict:
        return {"object": "list", "data": model_entries()}

    @app.get("/v1/models/{model_id:path}", dependencies=auth)
    async def get_model(model_id: str) -> dict:
        for entry in model_entries():
            if entry["id"] == model_id:
                return entry
        raise APIError(404, f"The model {model_id!r} does not exist; this server has "
                            f"{[e['id'] for e in model_entries()]}.", param="model", code="model_not_found")

    @app.post("/v1/chat/completions", dependencies=auth)
    async def chat_completions(body: ChatCompletionRequest):
        if body.n not in (None, 1):
            raise APIError(400, "n must be 1: this server returns one choice per request.", param="n")
        messages = to_langchain_messages(body.messages)
        model_name = requested(body.model, served.chat_id)
        model = await _load(served.chat, served.model_spec, "--model")
        runnable = configure(model, body)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if body.stream:
            return await stream_completion(runnable, messages, body, completion_id=completion_id,
                                           model=model_name, created=created)
        try:
            message = await run_in_threadpool(runnable.invoke, messages)
        except Exception as exc:  # noqa: BLE001 - mapped to an OpenAI error
            raise _model_error(exc) from exc
        return completion_body(message, completion_id=completion_id, model=model_name, created=created)

    @app.post("/v1/embeddings", dependencies=auth)
    async def create_embeddings(body: EmbeddingRequest):
        texts = _embedding_texts(body.input)
        model_name = requested(body.model, served.embeddings_id)
        emb = await _load(served.embeddings, served.embeddings_spec, "--embeddings")
        try:
            vectors = await run_in_threadpool(emb.embed_documents, texts)
        except Exception as exc:  # noqa: BLE001
            raise _model_error(exc) from exc
        if body.dimensions is not None and vectors and body.dimensions != len(vectors[0]):
            raise APIError(400, f"This embedding model has {len(vectors[0])} dimensions; it cannot return "
                                f"{body.dimensions}. Leave `dimensions` out.", param="dimensions")
        data = [
            {"object": "embedding", "index": i,
             "embedding": _base64_floats(v) if body.encoding_format == "base64" else [float(x) for x in v]}
            for i, v in enumerate(vectors)
        ]
        tokens = sum(_approx_tokens(t) for t in texts)
        return {"object": "list", "data": data, "model": model_name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    return app


# -- command line ---------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.serve",
                                     description="Serve a model over an OpenAI-compatible HTTP API.")
    parser.add_argument("--model", default=os.environ.get("HEARTH_MODEL", "local"),
                        help="chat model spec (default: $HEARTH_MODEL or 'local')")
    parser.add_argument("--embeddings", default=os.environ.get("HEARTH_EMBEDDINGS", "local"),
                        help="embeddings spec (default: $HEARTH_EMBEDDINGS or 'local')")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--api-key", default=os.environ.get("HEARTH_API_KEY"),
                        help="require 'Authorization: Bearer KEY' on /v1 (default: $HEARTH_API_KEY, else none)")
    args = parser.parse_args(argv)

    from models.spec import EMBEDDING_PROVIDERS, ModelSpecError, parse_model_spec  # also sets offline switches

    try:
        parse_model_spec(args.model)
        parse_model_spec(args.embeddings, providers=EMBEDDING_PROVIDERS)
    except ModelSpecError as exc:
        print(f"apps.serve: {exc}", file=sys.stderr)
        return 2
    import models  # noqa: F401  (offline runtime before anything loads)
    import uvicorn

    app = create_app(args.model, args.embeddings, api_key=args.api_key)
    print(f"Serving {display_name(args.model)} at http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
