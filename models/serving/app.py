"""The OpenAI-compatible FastAPI app behind `python -m apps.serve`, built from small parts:
error handlers, metrics, the API-key check and per-key limits, the model list, chat
completions, text completions and embeddings.

    from models.serving.app import create_app
    app = create_app("local", "local", api_key="s3cret")     # serve with uvicorn, or TestClient(app)
    app = create_app("local", "local", key_store=open_key_store("postgresql://..."))   # keys with limits
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.serving.ab import ABLog, ABRouter
from models.serving.convert import (approx_tokens, base64_floats, completion_body, configure, embedding_texts,
                                    to_langchain_messages)
from models.serving.errors import APIError, model_error, validation_message
from models.serving.keystore import KeyRecord, RateLimited, StaticKeys
from models.serving.limits import BodySizeLimit, GenerationSlots, ServerLimits
from models.serving.schemas import (ChatCompletionRequest, CompletionRequest, DetokenizeRequest, EmbeddingRequest,
                                    FeedbackRequest, TokenizeRequest)
from models.serving.served import ServedModels, load_served
from models.serving.shutdown import OpenStreams
from models.serving.streaming import stream_completion

ANONYMOUS = KeyRecord(id="anonymous", name="anonymous")
WORKER_THREADS = 40   # as many as starlette's run_in_threadpool allows (anyio's default limiter)
_workers = None
_workers_lock = threading.Lock()


def in_worker(fn: Callable, *args) -> "asyncio.Future":
    """Run blocking `fn(*args)` in the gateway's worker threads (with the caller's context
    variables). The hot path's hops go here: an executor future costs less per call than
    anyio's thread runner behind run_in_threadpool."""
    global _workers
    if _workers is None:
        with _workers_lock:
            if _workers is None:
                from concurrent.futures import ThreadPoolExecutor

                _workers = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="hearth-gateway")
    return asyncio.get_running_loop().run_in_executor(_workers, contextvars.copy_context().run, fn, *args)


@dataclass
class Caller:
    """Who sent a request: their key's record and the store that knows it (None: an open server)."""

    record: KeyRecord
    store: Any = None


@dataclass
class Gateway:
    served: ServedModels
    limits: ServerLimits
    stores: list = field(default_factory=list)
    metrics: Any = None
    slots: GenerationSlots | None = None
    ab: ABRouter | None = None
    ab_log: ABLog | None = None
    streams: OpenStreams = field(default_factory=OpenStreams)

    def charge(self, caller: Caller, model: str, usage: dict | None, seconds: float | None = None) -> None:
        """Record a finished request's tokens: metrics, and the key's tokens/min and daily quota
        (a database write: call it from a worker thread)."""
        self.count(caller, model, usage, seconds)
        total = int((usage or {}).get("total_tokens") or 0)
        if caller.store is not None and total:
            caller.store.add_tokens(caller.record, total)

    async def charge_async(self, caller: Caller, model: str, usage: dict | None, seconds: float | None = None) -> None:
        """`charge` from the event loop: metrics at once, and a worker thread only for a key
        store that records usage (no thread hop for an open server or the single server key)."""
        self.count(caller, model, usage, seconds)
        total = int((usage or {}).get("total_tokens") or 0)
        if caller.store is not None and total and getattr(caller.store, "charges", True):
            await in_worker(caller.store.add_tokens, caller.record, total)

    def count(self, caller: Caller, model: str, usage: dict | None, seconds: float | None = None) -> None:
        if self.metrics is not None:
            self.metrics.record_tokens(model, caller.record.name, usage or {}, seconds)


UNTRACED_PATHS = ("/health", "/metrics")


def _untraced_route(scope) -> bool:
    return scope.get("path") in UNTRACED_PATHS


# FastAPI's own OpenTelemetry (on once models.tracing sets a tracer provider): keep its span per HTTP
# request, the root that the graph and model spans hang from, but not its spans per dependency,
# endpoint and serialisation step (they doubled the spans written per chat request and added about
# 0.2-0.5 ms of gateway time), and none for health checks and metric scrapes.
HTTP_SPANS_ONLY = {"operation_spans": False, "exclude": _untraced_route}


def create_app(model_spec: str = "local", embeddings_spec: str = "local", api_key: str | None = None, *,
               chat_model: Any = None, embeddings: Any = None, served_names: tuple[str, ...] = (),
               limits: ServerLimits | None = None, key_store: Any = None, metrics: bool = True,
               ab: ABRouter | None = None, ab_log: ABLog | str | None = None) -> FastAPI:
    """The FastAPI app. Models load on the first request that needs them (through
    `models.load_chat_model` / `models.load_embeddings`), unless `chat_model` / `embeddings`
    objects are given (tests inject fakes this way). Callers are checked against `api_key` (one
    key, no limits) and `key_store` (keys with per-key limits, `models.serving.keystore`); with
    neither, /v1 is open: the command line (`apps.serve`) always has a key. With `ab` (an
    `models.serving.ab.ABRouter`) chat requests are routed between variants and logged to
    `ab_log` (a path or ABLog; default .hearth/ab/ab_log.jsonl), and POST /v1/feedback is served."""
    gateway = Gateway(served=None, limits=limits or ServerLimits())  # type: ignore[arg-type]
    if ab is not None:
        from models.serving.ab import default_log_path

        gateway.ab = ab
        gateway.ab_log = ab_log if isinstance(ab_log, ABLog) else ABLog(ab_log or default_log_path())
    if metrics:
        from models.serving.metrics import ServerMetrics

        gateway.metrics = ServerMetrics()
    on_load = (lambda kind, model: gateway.metrics.model_loads.labels(model, kind).inc()) if metrics else None
    gateway.served = ServedModels(model_spec, embeddings_spec, chat_model, embeddings,
                                  served_names=tuple(served_names), on_load=on_load)
    gateway.stores = ([StaticKeys(api_key)] if api_key else []) + ([key_store] if key_store is not None else [])
    gateway.slots = GenerationSlots(gateway.limits.concurrent_per_key,
                                    gauge=gateway.metrics.in_flight if gateway.metrics is not None else None)
    app = FastAPI(title="hearth OpenAI-compatible server", version="1", docs_url="/docs", redoc_url=None,
                  lifespan=flush_on_shutdown(gateway), telemetry=HTTP_SPANS_ONLY)
    app.state.served = gateway.served
    app.state.limits = gateway.limits
    app.state.gateway = gateway
    app.state.generation_slots = gateway.slots
    add_error_handlers(app)
    auth = Depends(caller_check(gateway))
    metered = Depends(metered_check(gateway))
    if gateway.metrics is not None:
        add_metrics(app, gateway, auth)
    if gateway.ab is not None:
        app.add_middleware(RecordVariant, gateway=gateway)
        add_feedback_route(app, gateway, auth)
    app.add_middleware(BodySizeLimit, max_bytes=gateway.limits.max_body_bytes)
    add_model_routes(app, gateway.served, auth)
    add_chat_route(app, gateway, metered)
    add_completions_route(app, gateway, metered)
    add_embeddings_route(app, gateway, metered)
    add_tokenizer_routes(app, gateway, auth)
    return app


def flush_on_shutdown(gateway: Gateway):
    """The app's lifespan: when the server stops, write out what is still buffered (the spans
    that OpenTelemetry's batch processor holds, the A/B log's file). uvicorn ends a SIGTERM'd
    process by re-raising the signal, which skips atexit hooks, so this is where they get written."""

    @asynccontextmanager
    async def lifespan(_app):
        yield
        from models.tracing import flush_tracing

        flush_tracing()
        if gateway.ab_log is not None:
            gateway.ab_log.close()

    return lifespan


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


def add_metrics(app: FastAPI, gateway: Gateway, auth) -> None:
    """GET /metrics (Prometheus text format, behind the API key), and every answered request
    counted by route, model, key and status, with its latency to the response's start (a plain
    ASGI middleware: streamed bodies pass through untouched)."""
    app.add_middleware(MeasureRequests, metrics=gateway.metrics)

    @app.get("/metrics", dependencies=[auth], include_in_schema=False)
    async def scrape() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(gateway.metrics.scrape(), media_type=CONTENT_TYPE_LATEST)


class MeasureRequests:
    def __init__(self, app, metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        seen: dict = {}

        async def send_measured(message):
            if message["type"] == "http.response.start":
                seen["status"], seen["seconds"] = message["status"], time.perf_counter() - started
            await send(message)

        try:
            await self.app(scope, receive, send_measured)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route and route != "/metrics" and "status" in seen:
                state = scope.get("state") or {}
                self.metrics.record_response(route, state.get("model", "-"), state.get("key_name", "-"),
                                             seen["status"], seen["seconds"])


def caller_check(gateway: Gateway, admit: bool = False) -> Callable:
    """A dependency that checks 'Authorization: Bearer KEY' against the server's key stores and
    returns the Caller (its key record names it in metrics; the key itself is never kept). With
    `admit`, the key's request limits are checked and charged in the same call (one transaction
    in a SQL store): 429 with Retry-After when over."""

    async def check(request: Request) -> Caller:
        if not gateway.stores:
            request.state.key_name = ANONYMOUS.name
            return Caller(ANONYMOUS)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise APIError(401, "Missing API key: send the header 'Authorization: Bearer KEY' (the key apps.serve "
                                "printed or stored in .hearth/secrets/serve.key, the one given with --api-key, or one "
                                "from `python -m apps.keys create`).", code="invalid_api_key",
                           headers={"WWW-Authenticate": "Bearer"})
        for store in gateway.stores:
            call = store.admit if admit else store.verify
            try:
                record = await in_worker(call, token.strip()) if getattr(store, "blocking", True) \
                    else call(token.strip())
            except RateLimited as exc:
                if exc.record is not None:
                    request.state.key_name = exc.record.name
                raise APIError(429, str(exc), type="rate_limit_error", code="rate_limit_exceeded",
                               headers={"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}) from None
            if record is not None:
                request.state.key_name = record.name
                return Caller(record, store)
        raise APIError(401, "Incorrect API key provided (unknown or revoked).", code="invalid_api_key",
                       headers={"WWW-Authenticate": "Bearer"})

    return check


def metered_check(gateway: Gateway) -> Callable:
    """The caller check plus the key's request and token limits: 429 with Retry-After when over."""
    return caller_check(gateway, admit=True)


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
    future = in_worker(work)
    try:
        async with asyncio.timeout(limits.request_timeout_s):
            return await asyncio.shield(future)
    except TimeoutError:
        raise limits.timeout_error() from None


def add_chat_route(app: FastAPI, gateway: Gateway, metered) -> None:
    served, limits, slots = gateway.served, gateway.limits, gateway.slots

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request, caller: Caller = metered):
        started = time.perf_counter()
        if body.n not in (None, 1):
            raise APIError(400, "n must be 1: this server returns one choice per request.", param="n")
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        variant = choose_variant(gateway, request, body, caller, completion_id)
        model_name = request.state.model = served.resolve(body.model, "chat")
        limits.check_messages(len(body.messages))
        messages = to_langchain_messages(body.messages)
        if variant is None:
            model = served.chat_if_loaded()
            if model is None:
                model = await load_served(served.chat, served.model_spec, "--model")
        else:
            messages = variant.apply_prompt(messages)
            model = variant.chat_model if variant.model_spec else served.chat_if_loaded()
            if model is None:
                model = await load_served(lambda: variant.model(served.chat), variant.model_spec or served.model_spec,
                                          "--ab" if variant.model_spec else "--model")
        limits.check_max_tokens(body.max_completion_tokens or body.max_tokens, model)
        runnable = configure(model, body)
        # models.tracing copies run metadata onto the spans
        run_config = {"metadata": {"variant": variant.name, "request_id": completion_id}} if variant is not None else None
        created = int(time.time())
        key_id = caller.record.id
        if body.stream:
            slots.acquire(key_id)
            first: list[float] = []
            loop = asyncio.get_running_loop()

            def on_first() -> None:
                first.append(time.perf_counter())
                if gateway.metrics is not None:
                    gateway.metrics.ttft.labels(model_name).observe(first[0] - started)

            def on_usage(usage: dict) -> None:
                gateway.count(caller, model_name, usage, time.perf_counter() - first[0] if first else None)
                total = int(usage.get("total_tokens") or 0)
                if caller.store is not None and total and getattr(caller.store, "charges", True):
                    loop.run_in_executor(None, caller.store.add_tokens, caller.record, total)

            if run_config is not None:
                runnable = runnable.with_config(run_config)
            return await stream_completion(runnable, messages, body, completion_id=completion_id,
                                           model=model_name, created=created,
                                           deadline=loop.time() + limits.request_timeout_s,
                                           on_done=lambda: slots.release(key_id),
                                           timeout_error=limits.timeout_error(), on_first=on_first, on_usage=on_usage,
                                           streams=gateway.streams)
        charges = caller.store is not None and getattr(caller.store, "charges", True)

        def answer() -> tuple:
            """The model call, the reply's body and the key's charge, in one trip to a worker thread."""
            try:
                message = runnable.invoke(messages, run_config)
            except Exception as exc:  # noqa: BLE001 - mapped to an OpenAI error below
                return exc, None, None
            body_out = completion_body(message, completion_id=completion_id, model=model_name, created=created)
            usage = body_out.get("usage") or _approx_usage(messages, body_out)
            total = int(usage.get("total_tokens") or 0)
            if charges and total:
                caller.store.add_tokens(caller.record, total)
            return None, body_out, usage

        try:
            failed, body_out, usage = await run_bounded(answer, limits, slots, key_id)
        except APIError:
            raise
        if failed is not None:
            raise model_error(failed) from failed
        gateway.count(caller, model_name, usage, time.perf_counter() - started)
        return JSONResponse(body_out)   # plain JSON types already: skips FastAPI's jsonable_encoder pass


def choose_variant(gateway: Gateway, request: Request, body: ChatCompletionRequest, caller: Caller,
                   response_id: str):
    """The A/B variant for this request (None without --ab), noted on the request's state for the
    response header, the metrics and the A/B log."""
    if gateway.ab is None:
        return None
    user = getattr(body, "user", None)
    user = str(user) if user not in (None, "") else f"key:{caller.record.id}"
    variant = gateway.ab.choose(user, caller.record.name)
    request.state.variant, request.state.response_id, request.state.ab_user = variant.name, response_id, user
    return variant


class RecordVariant:
    """Puts `x-hearth-variant` (and `x-hearth-response-id`, for feedback) on every routed
    response, and once the body is sent, counts it by variant and appends it to the A/B log
    (latency to the last byte, and to the first byte)."""

    def __init__(self, app, gateway: Gateway):
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        seen: dict = {}

        async def send_marked(message):
            if message["type"] == "http.response.start":
                seen["status"], seen["ttfb"] = message["status"], time.perf_counter() - started
                state = scope.get("state") or {}
                if "variant" in state:
                    headers = list(message.get("headers") or [])
                    headers.append((b"x-hearth-variant", state["variant"].encode()))
                    headers.append((b"x-hearth-response-id", state["response_id"].encode()))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_marked)
        finally:
            state = scope.get("state") or {}
            if "variant" in state:
                status = seen.get("status", 500)
                seconds = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", "-")
                if self.gateway.metrics is not None:
                    self.gateway.metrics.record_variant(state["variant"], route, status, seconds)
                # one buffered line to an open file: cheaper here than a hop to a worker thread
                self.gateway.ab_log.record_response(state["response_id"], state["variant"], route, status, seconds,
                                                    seen.get("ttfb"), state["ab_user"])


def add_feedback_route(app: FastAPI, gateway: Gateway, auth) -> None:
    """POST /v1/feedback {"response_id": "chatcmpl-...", "score": 1}: a user's rating of an
    answer, logged with the answer's variant (the id is the response's `id` or its
    `x-hearth-response-id` header)."""

    @app.post("/v1/feedback", dependencies=[auth])
    async def feedback(body: FeedbackRequest) -> dict:
        variant = gateway.ab_log.variant_of(body.response_id)
        if variant is None:
            raise APIError(404, f"No routed response {body.response_id!r} is known to this server: send the `id` of "
                                "a chat completion it answered since it started (also in the x-hearth-response-id "
                                "header).", param="response_id", code="response_not_found")
        await run_in_threadpool(gateway.ab_log.record_feedback, body.response_id, variant, body.score, body.comment)
        if gateway.metrics is not None:
            gateway.metrics.feedback.labels(variant).observe(body.score)
        return {"object": "feedback", "response_id": body.response_id, "variant": variant, "score": body.score}


def _approx_usage(messages: list, body: dict) -> dict:
    """Word counts when the model reports no usage (remote models that omit it)."""
    from models.serving.convert import message_text

    prompt = sum(approx_tokens(message_text(m.content)) for m in messages)
    completion = approx_tokens(body["choices"][0]["message"].get("content") or "")
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_prompts(prompt: str | list) -> list[str | list[int]]:
    """The request's prompts: a text, texts, one list of token ids, or lists of token ids."""
    if isinstance(prompt, str):
        return [prompt]
    if not prompt:
        raise APIError(400, "prompt must not be empty.", param="prompt")
    if all(isinstance(p, int) for p in prompt):
        return [list(prompt)]
    return list(prompt)


def add_completions_route(app: FastAPI, gateway: Gateway, metered) -> None:
    """/v1/completions: raw text completion with optional `logprobs` and `echo` (prompt token
    log-probabilities), which lm-eval's loglikelihood and multiple-choice tasks need. Served by
    models that offer `complete_text` (the in-process llama.cpp models: `local`, `gguf:`)."""
    served, limits, slots = gateway.served, gateway.limits, gateway.slots

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request, caller: Caller = metered):
        started = time.perf_counter()
        if body.n not in (None, 1):
            raise APIError(400, "n must be 1: this server returns one choice per prompt.", param="n")
        if body.stream:
            raise APIError(400, "stream is not supported on /v1/completions; stream through /v1/chat/completions.",
                           param="stream")
        model_name = request.state.model = served.resolve(body.model, "chat")
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
            results = await run_bounded(complete_all, limits, slots, caller.record.id)
        except APIError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to an OpenAI error
            raise model_error(exc) from exc
        usage = {k: sum(int((r.get("usage") or {}).get(k) or 0) for r in results)
                 for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        await gateway.charge_async(caller, model_name, usage, time.perf_counter() - started)
        return {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "text_completion", "created": int(time.time()),
                "model": model_name, "system_fingerprint": None,
                "choices": [{"index": i, "text": r["text"], "logprobs": r.get("logprobs"),
                             "finish_reason": r.get("finish_reason") or "stop"} for i, r in enumerate(results)],
                "usage": usage}


def add_embeddings_route(app: FastAPI, gateway: Gateway, metered) -> None:
    served, limits = gateway.served, gateway.limits

    @app.post("/v1/embeddings")
    async def create_embeddings(body: EmbeddingRequest, request: Request, caller: Caller = metered):
        model_name = request.state.model = served.resolve(body.model, "embeddings")
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
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        await gateway.charge_async(caller, model_name, usage)
        return {"object": "list", "data": data, "model": model_name, "usage": usage}


def add_tokenizer_routes(app: FastAPI, gateway: Gateway, auth) -> None:
    """vLLM's /tokenizer_info, /tokenize and /detokenize at the server root: lm-eval's
    local-completions client then tokenizes with the served model's own tokenizer (its "remote"
    tokenizer backend), so its context lengths and token ids match the model exactly."""
    served = gateway.served

    async def text_model():
        model = await load_served(served.chat, served.model_spec, "--model")
        if not hasattr(model, "tokenize"):
            raise APIError(400, f"Tokenizer endpoints need an in-process llama.cpp model (spec 'local' or 'gguf:PATH'); "
                                f"this server's model is {type(model).__name__}.", code="unsupported_model")
        return model

    @app.get("/tokenizer_info", dependencies=[auth])
    async def tokenizer_info() -> dict:
        return await run_in_threadpool((await text_model()).tokenizer_info)

    @app.post("/tokenize", dependencies=[auth])
    async def tokenize(body: TokenizeRequest) -> dict:
        model = await text_model()
        tokens = await run_in_threadpool(model.tokenize, body.prompt, body.add_special_tokens)
        return {"tokens": tokens, "count": len(tokens), "max_model_len": getattr(model, "n_ctx", None)}

    @app.post("/detokenize", dependencies=[auth])
    async def detokenize(body: DetokenizeRequest) -> dict:
        model = await text_model()
        return {"prompt": await run_in_threadpool(model.detokenize, body.tokens)}
