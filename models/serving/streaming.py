"""Server-sent events for streamed chat completions, produced from a model running in its own thread."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any, AsyncIterator, Callable, Iterator

from fastapi.responses import StreamingResponse

from models.serving.convert import approx_tokens, finish_reason, message_text, usage_dict
from models.serving.errors import APIError, model_error
from models.serving.schemas import ChatCompletionRequest

END = object()


class ServerShuttingDown(Exception):
    """The server is stopping and ended this stream (models.serving.shutdown)."""


def shutdown_error() -> APIError:
    return APIError(503, "The server is shutting down and ended this answer before it was complete. Retry the "
                         "request (another replica, or this server once it is back).", type="server_error",
                    code="server_shutting_down")


class ThreadStream:
    """Runs a blocking iterator in one dedicated thread and hands its items to the event loop.

    One thread for the whole iteration (not one threadpool hop per item) keeps LangChain's
    context variables and llama.cpp's lock in the thread that set them up."""

    def __init__(self, make_iterator: Callable[[], Iterator[Any]], on_done: Callable[[], None] | None = None):
        self._make = make_iterator
        self._on_done = on_done  # called in the producer thread once the model stops
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
            if self._on_done is not None:
                self._on_done()

    async def next(self, deadline: float | None = None) -> Any:
        """The next item, `END` when exhausted; re-raises the producer's exception. Past `deadline`
        (event-loop time) raises TimeoutError."""
        if deadline is None:
            kind, value = await self._queue.get()
        else:
            kind, value = await asyncio.wait_for(self._queue.get(), max(0.0, deadline - self._loop.time()))
        if kind == "error":
            raise value
        if kind == "shutdown":
            raise ServerShuttingDown()
        return END if kind == "done" else value

    def cancel(self) -> None:
        self._stop.set()

    def interrupt(self) -> None:
        """Stop the model and make the waiting `next` raise ServerShuttingDown (call on the loop)."""
        self._stop.set()
        self._queue.put_nowait(("shutdown", None))


def sse(data: dict | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


def tool_call_deltas(chunk: Any, seen: dict[int, str]) -> list[dict]:
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
                            model: str, created: int, deadline: float | None = None,
                            on_done: Callable[[], None] | None = None, timeout_error: APIError | None = None,
                            on_first: Callable[[], None] | None = None,
                            on_usage: Callable[[dict], None] | None = None, streams: Any = None):
    """A StreamingResponse of chat.completion.chunk events, or an error response when the model
    fails before its first chunk (load errors, prompt too long). Past `deadline` (event-loop time)
    the model is stopped and `timeout_error` is sent; `on_done` runs when the model's thread ends,
    `on_first` when its first chunk arrives, `on_usage(usage)` when the stream has ended. The
    stream is registered in `streams` (a models.serving.shutdown.OpenStreams) while it runs, so a
    server shutdown ends it with a last `server_shutting_down` error event; a client that goes
    away stops the model at its next token (the slot is freed when the model's thread ends)."""
    from langchain_core.messages.ai import add_usage

    if streams is not None and streams.closing:
        if on_done is not None:
            on_done()
        return shutdown_error().response()
    stream = ThreadStream(lambda: runnable.stream(messages), on_done=on_done)
    if streams is not None:
        streams.add(stream)
    try:
        first = await stream.next(deadline)
    except asyncio.TimeoutError:
        stream.cancel()
        _forget(streams, stream)
        return (timeout_error or APIError(504, "The request timed out.", type="timeout")).response()
    except ServerShuttingDown:
        _forget(streams, stream)
        return shutdown_error().response()
    except BaseException as exc:
        stream.cancel()
        _forget(streams, stream)
        return model_error(exc).response()
    if on_first is not None:
        on_first()
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    max_tokens = body.max_completion_tokens or body.max_tokens

    def frame(delta: dict, finish: str | None = None) -> bytes:
        return sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                    "system_fingerprint": None,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

    async def events() -> AsyncIterator[bytes]:
        seen: dict[int, str] = {}
        usage_metadata = None
        reported_finish = None
        pieces = 0
        try:
            yield frame({"role": "assistant", "content": ""})
            chunk = first
            while chunk is not END:
                text = message_text(chunk.content)
                if text:
                    pieces += 1
                    yield frame({"content": text})
                deltas = tool_call_deltas(chunk, seen)
                if deltas:
                    yield frame({"tool_calls": deltas})
                if getattr(chunk, "usage_metadata", None):
                    usage_metadata = add_usage(usage_metadata, chunk.usage_metadata)
                meta = getattr(chunk, "response_metadata", None) or {}
                reported_finish = meta.get("finish_reason") or meta.get("done_reason") or reported_finish
                chunk = await stream.next(deadline)
        except asyncio.TimeoutError:
            yield sse((timeout_error or APIError(504, "The request timed out.", type="timeout")).body())
            return
        except ServerShuttingDown:
            yield sse(shutdown_error().body())
            return
        except BaseException as exc:
            if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
                raise
            yield sse(model_error(exc).body())
            return
        finally:
            stream.cancel()
            _forget(streams, stream)
        if reported_finish is None and max_tokens and pieces >= max_tokens:
            reported_finish = "length"  # in-process models stream one token per chunk
        yield frame({}, finish_reason(reported_finish, bool(seen)))
        usage = usage_dict(usage_metadata)
        if usage is None:  # approximate: one chunk per token, prompt words for prompt tokens
            prompt = sum(approx_tokens(message_text(m.content)) for m in messages)
            usage = {"prompt_tokens": prompt, "completion_tokens": pieces, "total_tokens": prompt + pieces}
        if on_usage is not None:
            on_usage(usage)
        if include_usage:
            yield sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                       "system_fingerprint": None, "choices": [], "usage": usage})
        yield sse("[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _forget(streams: Any, stream: ThreadStream) -> None:
    if streams is not None:
        streams.discard(stream)
