"""The OpenAI-compatible FastAPI app behind `python -m apps.serve`, built from small parts:
error handlers, the API-key check, the model list, chat completions and embeddings.

    from models.serving.app import create_app
    app = create_app("local", "local", api_key="s3cret")     # serve with uvicorn, or TestClient(app)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.serving.convert import (approx_tokens, base64_floats, completion_body, configure, embedding_texts,
                                    to_langchain_messages)
from models.serving.errors import APIError, model_error, validation_message
from models.serving.keys import hash_key, same_secret
from models.serving.limits import BodySizeLimit, GenerationSlots, ServerLimits
from models.serving.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from models.serving.served import ServedModels, load_served
from models.serving.streaming import stream_completion


def create_app(model_spec: str = "local", embeddings_spec: str = "local", api_key: str | None = None, *,
               chat_model: Any = None, embeddings: Any = None, served_names: tuple[str, ...] = (),
               limits: ServerLimits | None = None) -> FastAPI:
    """The FastAPI app. Models load on the first request that needs them (through
    `models.load_chat_model` / `models.load_embeddings`), unless `chat_model` / `embeddings`
    objects are given (tests inject fakes this way). `api_key=None` leaves /v1 open: the
    command line (`apps.serve`) always passes a key."""
    limits = limits or ServerLimits()
    served = ServedModels(model_spec, embeddings_spec, chat_model, embeddings, served_names=tuple(served_names))
    app = FastAPI(title="hearth OpenAI-compatible server", version="1", docs_url="/docs", redoc_url=None)
    app.state.served = served
    app.state.limits = limits
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes)
    add_error_handlers(app)
    auth = Depends(api_key_check(api_key))
    add_model_routes(app, served, auth)
    add_chat_route(app, served, limits, auth)
    add_completions_route(app, served, limits, auth)
    add_embeddings_route(app, served, limits, auth)
    return app


def add_error_handlers(app: FastAPI) -> None:
    """Every error, ours or the framework's, in OpenAI's shape."""

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError):
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        message, param = validation_message(exc)
        return APIError(400, message, param=param).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException):
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return APIError(exc.status_code, str(exc.detail), type=kind, headers=getattr(exc, "headers", None)).response()


def api_key_check(api_key: str | None) -> Callable:
    """A dependency that checks 'Authorization: Bearer KEY' and returns the caller's key id
    (a hash prefix, never the key; 'anonymous' when the server has no key)."""

    async def check(request: Request) -> str:
        if api_key is None:
            return "anonymous"
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise APIError(401, "Missing API key: send the header 'Authorization: Bearer KEY' (the key apps.serve "
                                "printed or stored in .hearth/secrets/serve.key, or the one given with --api-key).",
                           code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
        if not same_secret(token.strip(), api_key):
            raise APIError(401, "Incorrect API key provided.", code="invalid_api_key",
                           headers={"WWW-Authenticate": "Bearer"})
        return "key:" + hash_key(api_key)[:12]

    return check


def add_model_routes(app: FastAPI, served: ServedModels, auth) -> None:
    """/health (open, for liveness probes) and the model list."""
    started = int(time.time())

    def model_entries() -> list[dict]:
        entries: dict[str, dict] = {}
        for kind, names in served.names.items():
            for model_id in names:
                entry = entries.setdefault(model_id, {"id": model_id, "object": "model", "created": started,
                                                      "owned_by": "hearth", "capabilities": []})
                entry["capabilities"].append(kind)
        return list(entries.values())

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": served.chat_id, "embeddings": served.embeddings_id,
                "model_loaded": served.chat_loaded, "embeddings_loaded": served.embeddings_loaded}

    @app.get("/v1/models", dependencies=[auth])
    async def list_models() -> dict:
        return {"object": "list", "data": model_entries()}

    @app.get("/v1/models/{model_id:path}", dependencies=[auth])
    async def get_model(model_id: str) -> dict:
        for entry in model_entries():
            if entry["id"] == model_id:
                return entry
        raise APIError(404, f"The model {model_id!r} does not exist; this server has "
                            f"{[e['id'] for e in model_entries()]}.", param="model", code="model_not_found")


async def run_bounded(fn: Callable[[], Any], limits: ServerLimits, slots: GenerationSlots, key_id: str) -> Any:
    """Run a blocking model call in a worker thread, holding one of the key's generation slots
    until the thread ends, and give up waiting after the request timeout."""
    def work():
        try:
            return fn()
        finally:
            slots.release(key_id)

    slots.acquire(key_id)
    task = asyncio.ensure_future(run_in_threadpool(work))
    try:
        return await asyncio.wait_for(asyncio.shield(task), limits.request_timeout_s)
    except asyncio.TimeoutError:
        raise limits.timeout_error() from None


def add_chat_route(app: FastAPI, served: ServedModels, limits: ServerLimits, auth) -> None:
    slots = GenerationSlots(limits.concurrent_per_key)
    app.state.generation_slots = slots

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, key_id: str = auth):
        if body.n not in (None, 1):
            raise APIError(400, "n must be 1: this server returns one choice per request.", param="n")
        model_name = served.resolve(body.model, "chat")
        limits.check_messages(len(body.messages))
        messages = to_langchain_messages(body.messages)
        model = await load_served(served.chat, served.model_spec, "--model")
        limits.check_max_tokens(body.max_completion_tokens or body.max_tokens, model)
        runnable = configure(model, body)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if body.stream:
            slots.acquire(key_id)
            return await stream_completion(runnable, messages, body, completion_id=completion_id,
                                           model=model_name, created=created,
                                           deadline=asyncio.get_running_loop().time() + limits.request_timeout_s,
                                           on_done=lambda: slots.release(key_id),
                                           timeout_error=limits.timeout_error())
        try:
            message = await run_bounded(lambda: runnable.invoke(messages), limits, slots, key_id)
        except Exception as exc:  # noqa: BLE001 - mapped to an OpenAI error
            raise model_error(exc) from exc
        return completion_body(message, completion_id=completion_id, model=model_name, created=created)


def completion_prompts(prompt: str | list) -> list[str | list[int]]:
    """The request's prompts: a text, texts, one list of token ids, or lists of token ids."""
    if isinstance(prompt, str):
        return [prompt]
    if not prompt:
        raise APIError(400, "prompt must not be empty.", param="prompt")
    if all(isinstance(p, int) for p in prompt):
        return [list(prompt)]
    return list(prompt)


def add_completions_route(app: FastAPI, served: ServedModels, limits: ServerLimits, auth) -> None:
    """/v1/completions: raw text completion with optional `logprobs` and `echo` (prompt token
    log-probabilities), which lm-eval's loglikelihood and multiple-choice tasks need. Served by
    models that offer `complete_text` (the in-process llama.cpp models: `local`, `gguf:`)."""
    slots = app.state.generation_slots

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, key_id: str = auth):
        if body.n not in (None, 1):
            raise APIError(400, "n must be 1: this server returns one choice per prompt.", param="n")
        if body.stream:
            raise APIError(400, "stream is not supported on /v1/completions; stream through /v1/chat/completions.",
                           param="stream")
        model_name = served.resolve(body.model, "chat")
        prompts = completion_prompts(body.prompt)
        limits.check_messages(len(prompts), param="prompt")
        model = await load_served(served.chat, served.model_spec, "--model")
        if not hasattr(model, "complete_text"):
            raise APIError(400, f"/v1/completions needs an in-process llama.cpp model (spec 'local' or 'gguf:PATH'); "
                                f"this server's model is {type(model).__name__}. Use /v1/chat/completions.",
                           param="model", code="unsupported_model")
        limits.check_max_tokens(body.max_tokens, model)
        stop = [body.stop] if isinstance(body.stop, str) else body.stop
        options = dict(max_tokens=body.max_tokens if body.max_tokens is not None else 16, temperature=body.temperature,
                       stop=stop, logprobs=body.logprobs, echo=body.echo, seed=body.seed)

        def complete_all() -> list[dict]:
            return [model.complete_text(p, **options) for p in prompts]

        try:
            results = await run_bounded(complete_all, limits, slots, key_id)
        except APIError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to an OpenAI error
            raise model_error(exc) from exc
        usage = {k: sum(int((r.get("usage") or {}).get(k) or 0) for r in results)
                 for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        return {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "text_completion", "created": int(time.time()),
                "model": model_name, "system_fingerprint": None,
                "choices": [{"index": i, "text": r["text"], "logprobs": r.get("logprobs"),
                             "finish_reason": r.get("finish_reason") or "stop"} for i, r in enumerate(results)],
                "usage": usage}


def add_embeddings_route(app: FastAPI, served: ServedModels, limits: ServerLimits, auth) -> None:
    @app.post("/v1/embeddings", dependencies=[auth])
    async def create_embeddings(body: EmbeddingRequest):
        model_name = served.resolve(body.model, "embeddings")
        texts = embedding_texts(body.input)
        limits.check_messages(len(texts), param="input")
        emb = await load_served(served.embeddings, served.embeddings_spec, "--embeddings")
        try:
            vectors = await asyncio.wait_for(run_in_threadpool(emb.embed_documents, texts), limits.request_timeout_s)
        except asyncio.TimeoutError:
            raise limits.timeout_error() from None
        except Exception as exc:  # noqa: BLE001
            raise model_error(exc) from exc
        if body.dimensions is not None and vectors and body.dimensions != len(vectors[0]):
            raise APIError(400, f"This embedding model has {len(vectors[0])} dimensions; it cannot return "
                                f"{body.dimensions}. Leave `dimensions` out.", param="dimensions")
        data = [
            {"object": "embedding", "index": i,
             "embedding": base64_floats(v) if body.encoding_format == "base64" else [float(x) for x in v]}
            for i, v in enumerate(vectors)
        ]
        tokens = sum(approx_tokens(t) for t in texts)
        return {"object": "list", "data": data, "model": model_name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
