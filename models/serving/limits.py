"""Caps that keep one client from exhausting the server (OWASP LLM10, unbounded consumption).

    limits = ServerLimits(max_body_bytes=8_000_000, max_messages=256, concurrent_per_key=2, request_timeout_s=300)
    app = create_app("local", "local", limits=limits)

Every cap answers with an OpenAI-shaped error that names the limit and what to send instead:
413 for a body too large, 400 for too many messages or inputs and for max_tokens beyond the
model's context, 429 (with Retry-After) for too many generations at once, 504 for a request
that ran past its time.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass

from fastapi import HTTPException

from models.serving.errors import APIError

FALLBACK_CONTEXT = 32_768  # max_tokens cap for models whose context length the server cannot see


def _env_number(name: str, default, kind=int):
    value = os.environ.get(name)
    return kind(value) if value not in (None, "") else default


@dataclass(frozen=True)
class ServerLimits:
    max_body_bytes: int = 8_000_000        # HEARTH_SERVE_MAX_BODY (a 1000-chunk embeddings batch fits)
    max_messages: int = 256                # HEARTH_SERVE_MAX_MESSAGES (and completion prompts per request)
    max_inputs: int = 2048                 # HEARTH_SERVE_MAX_INPUTS: texts per embeddings request (OpenAI's cap)
    max_tokens: int | None = None          # HEARTH_SERVE_MAX_TOKENS; None: the model's context length
    concurrent_per_key: int = 2            # HEARTH_SERVE_CONCURRENCY: generations at once per API key
    request_timeout_s: float = 300.0       # HEARTH_SERVE_TIMEOUT_S: per request, streaming included

    @classmethod
    def from_env(cls) -> "ServerLimits":
        return cls(max_body_bytes=_env_number("HEARTH_SERVE_MAX_BODY", cls.max_body_bytes),
                   max_messages=_env_number("HEARTH_SERVE_MAX_MESSAGES", cls.max_messages),
                   max_inputs=_env_number("HEARTH_SERVE_MAX_INPUTS", cls.max_inputs),
                   max_tokens=_env_number("HEARTH_SERVE_MAX_TOKENS", None),
                   concurrent_per_key=_env_number("HEARTH_SERVE_CONCURRENCY", cls.concurrent_per_key),
                   request_timeout_s=_env_number("HEARTH_SERVE_TIMEOUT_S", cls.request_timeout_s, float))

    def check_messages(self, count: int, param: str = "messages") -> None:
        cap, variable = (self.max_inputs, "HEARTH_SERVE_MAX_INPUTS") if param == "input" else \
            (self.max_messages, "HEARTH_SERVE_MAX_MESSAGES")
        if count > cap:
            raise APIError(400, f"{param} has {count} items; this server takes at most {cap} per request "
                                f"({variable}). Send fewer (in several requests), or summarise older turns.",
                           param=param, code="too_many_items")

    def check_max_tokens(self, requested: int | None, model) -> None:
        """max_tokens may not exceed the model's context (n_ctx for in-process models) or the server's cap."""
        if requested is None:
            return
        context = getattr(model, "n_ctx", None) or FALLBACK_CONTEXT
        cap = min(context, self.max_tokens) if self.max_tokens else context
        if requested > cap:
            raise APIError(400, f"max_tokens={requested} is more than this server allows for the model ({cap}: "
                                f"{'its context length' if cap == context else 'HEARTH_SERVE_MAX_TOKENS'}). "
                                f"Ask for at most {cap}.", param="max_tokens", code="max_tokens_exceeded")

    def timeout_error(self) -> APIError:
        return APIError(504, f"The request ran past this server's {self.request_timeout_s:g} s limit "
                             "(HEARTH_SERVE_TIMEOUT_S). Ask for fewer tokens or a shorter prompt.",
                        type="timeout", code="request_timeout")


class GenerationSlots:
    """At most `per_key` generations at once per API key; a request beyond that is answered 429.

    A slot is freed by the model's own thread when it ends, not when the client gives up, so a
    timed-out request still counts until the model stops working on it."""

    def __init__(self, per_key: int, gauge=None):
        self.per_key = per_key
        self.active: dict[str, int] = {}
        self.gauge = gauge  # a prometheus Gauge of generations in flight, or None
        self._lock = threading.Lock()

    def acquire(self, key_id: str) -> None:
        with self._lock:
            if self.active.get(key_id, 0) >= self.per_key:
                raise APIError(429, f"Too many generations at once for this API key (at most {self.per_key}; "
                                    "HEARTH_SERVE_CONCURRENCY). Wait for one to finish and retry.",
                               type="rate_limit_error", code="concurrency_limit_exceeded", headers={"Retry-After": "1"})
            self.active[key_id] = self.active.get(key_id, 0) + 1
        if self.gauge is not None:
            self.gauge.inc()

    def release(self, key_id: str) -> None:
        with self._lock:
            left = self.active.get(key_id, 0) - 1
            if left > 0:
                self.active[key_id] = left
            else:
                self.active.pop(key_id, None)
        if self.gauge is not None:
            self.gauge.dec()


class BodySizeLimit:
    """ASGI middleware: a request body over `max_bytes` is answered 413 before it is parsed."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _message(self, size: str) -> str:
        return (f"The request body is {size}; this server takes at most {self.max_bytes} bytes "
                "(HEARTH_SERVE_MAX_BODY). Send a shorter prompt or fewer inputs.")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            body = APIError(413, self._message(f"{int(declared)} bytes"), param=None, code="request_too_large").body()
            payload = json.dumps(body).encode()
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})
            return
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # a chunked body with no Content-Length
                    raise HTTPException(413, self._message(f"over {self.max_bytes} bytes"))
            return message

        await self.app(scope, counted, send)
