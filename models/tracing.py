"""Traces of every graph run, node, model call and tool call as OpenTelemetry spans.

Switched on by the environment, so the apps, `langgraph dev` and the gateway all trace the same way:

    HEARTH_TRACING=jsonl ./dev py -m apps.ask "How many days of annual leave do I get?"
    #   spans as JSON lines in .hearth/traces/spans.jsonl (or HEARTH_TRACING=jsonl:/path/spans.jsonl)
    HEARTH_TRACING=otlp:http://127.0.0.1:4318/v1/traces ...   # any OTLP/HTTP collector (Jaeger, Tempo...)
    HEARTH_TRACE_CONTENT=on ...                               # also record prompts and answers

Spans are written by OpenTelemetry's batch processor from its own thread, so a request never waits
for a span write; what is still queued is written at exit and by `flush_tracing()` (the gateway
calls it when it shuts down).

Prompts and answers are left out unless HEARTH_TRACE_CONTENT says so: they can hold personal data.
A run's `metadata` (`config={"metadata": {"request_id": ..., "variant": ...}}`) is copied onto each
of its spans as `hearth.<key>`, so one request or one A/B variant can be followed through a graph.

It works through LangChain's callback system: one handler, registered once per process as an
inheritable configure hook, turns run start/end events into spans whose parents follow the runs'
own parent ids.
"""

from __future__ import annotations

import json
import threading
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from uuid import UUID

from models.settings import data_home, parse_flag

_CONTENT_LIMIT = 2000
_configured: dict[str, Any] = {}
_lock = threading.Lock()


class TracingConfigError(ValueError):
    """HEARTH_TRACING holds a value that names no exporter."""


def parse_tracing(setting: str) -> tuple[str, str]:
    """("off" | "jsonl" | "otlp", target) from a HEARTH_TRACING value.

    >>> parse_tracing("jsonl:/tmp/spans.jsonl")
    ('jsonl', '/tmp/spans.jsonl')
    >>> parse_tracing("otlp:http://collector:4318/v1/traces")
    ('otlp', 'http://collector:4318/v1/traces')
    >>> parse_tracing("no")
    ('off', '')
    """
    value = (setting or "").strip()
    kind, _, target = value.partition(":")
    if kind in ("jsonl", "otlp"):
        if kind == "otlp" and not target:
            raise TracingConfigError("HEARTH_TRACING=otlp needs the collector URL: otlp:http://HOST:4318/v1/traces")
        return kind, target
    try:
        if not parse_flag(value or "off", "HEARTH_TRACING"):
            return "off", ""
    except ValueError:
        pass
    raise TracingConfigError(f"HEARTH_TRACING={setting!r} is not understood. Use off, jsonl, jsonl:/path/spans.jsonl "
                             "or otlp:http://HOST:4318/v1/traces.")


class JsonLinesSpanExporter:
    """Writes each finished span as one JSON object per line (an OpenTelemetry SpanExporter)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def export(self, spans) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        import orjson   # several times faster than json here, and this thread shares the GIL with requests

        lines = []
        for span in spans:
            context, parent = span.get_span_context(), span.parent
            lines.append(orjson.dumps({
                "name": span.name,
                "trace_id": format(context.trace_id, "032x"),
                "span_id": format(context.span_id, "016x"),
                "parent_id": format(parent.span_id, "016x") if parent else None,
                "start_ns": span.start_time, "end_ns": span.end_time,
                "duration_ms": round((span.end_time - span.start_time) / 1e6, 3),
                "status": span.status.status_code.name,
                "attributes": dict(span.attributes or {}),
            }, default=str, option=orjson.OPT_APPEND_NEWLINE))
        with self._lock, open(self.path, "ab") as out:
            out.write(b"".join(lines))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _attribute(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_CONTENT_LIMIT]


def _tracing_handler_class():
    from langchain_core.callbacks import BaseCallbackHandler
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    class TracingCallbackHandler(BaseCallbackHandler):
        """LangChain run events -> OpenTelemetry spans (parents follow `parent_run_id`)."""

        def __init__(self, record_content: bool = False):
            self.record_content = record_content
            self.tracer = trace.get_tracer("hearth")
            self.spans: dict[UUID, Any] = {}

        def _start(self, kind: str, name: str, run_id: UUID, parent_run_id: UUID | None, metadata: dict | None,
                   attributes: dict) -> None:
            parent = self.spans.get(parent_run_id) if parent_run_id else None
            context = trace.set_span_in_context(parent) if parent is not None else None
            values = {"hearth.kind": kind}
            for key, value in (metadata or {}).items():
                if isinstance(value, (str, int, float, bool)) and not key.startswith("langgraph_checkpoint"):
                    values[f"hearth.{key}"] = value
            values.update((key, value) for key, value in attributes.items() if value is not None)
            # given at start, the attributes are checked once as a set (a set_attribute call each costs more)
            self.spans[run_id] = self.tracer.start_span(name or kind, context=context, attributes=values)

        def _end(self, run_id: UUID, error: BaseException | None = None, attributes: dict | None = None) -> None:
            span = self.spans.pop(run_id, None)
            if span is None:
                return
            values = {key: value for key, value in (attributes or {}).items() if value is not None}
            if values:
                span.set_attributes(values)
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:500]))
            span.end()

        def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, metadata=None, **kwargs):
            name = kwargs.get("name") or (serialized or {}).get("name") or "chain"
            kind = "graph" if parent_run_id is None else "node"
            content = {"hearth.input": _attribute(inputs)} if self.record_content else {}
            self._start(kind, name, run_id, parent_run_id, metadata, content)

        def on_chain_end(self, outputs, *, run_id, **kwargs):
            self._end(run_id, attributes={"hearth.output": _attribute(outputs)} if self.record_content else None)

        def on_chain_error(self, error, *, run_id, **kwargs):
            self._end(run_id, error)

        def on_chat_model_start(self, serialized, messages, *, run_id, parent_run_id=None, metadata=None, **kwargs):
            params = kwargs.get("invocation_params") or {}
            model = (metadata or {}).get("ls_model_name") or params.get("model") or params.get("model_name") \
                or (serialized or {}).get("name")
            attributes = {"gen_ai.request.model": str(model) if model else None,
                          "gen_ai.operation.name": "chat"}
            if self.record_content:
                attributes["hearth.prompt"] = _attribute([[getattr(m, "content", m) for m in batch]
                                                          for batch in messages])
            self._start("llm", kwargs.get("name") or "chat_model", run_id, parent_run_id, metadata, attributes)

        def on_llm_start(self, serialized, prompts, *, run_id, parent_run_id=None, metadata=None, **kwargs):
            attributes = {"gen_ai.operation.name": "completion"}
            if self.record_content:
                attributes["hearth.prompt"] = _attribute(prompts)
            self._start("llm", kwargs.get("name") or "llm", run_id, parent_run_id, metadata, attributes)

        def on_llm_end(self, response, *, run_id, **kwargs):
            usage = (response.llm_output or {}).get("token_usage") or {}
            attributes: dict[str, Any] = {}
            for generations in response.generations:
                for generation in generations:
                    message = getattr(generation, "message", None)
                    meta = getattr(message, "usage_metadata", None) or {}
                    usage = usage or {"prompt_tokens": meta.get("input_tokens"),
                                      "completion_tokens": meta.get("output_tokens")}
                    if self.record_content:
                        attributes["hearth.completion"] = _attribute(generation.text)
            attributes["gen_ai.usage.input_tokens"] = usage.get("prompt_tokens")
            attributes["gen_ai.usage.output_tokens"] = usage.get("completion_tokens")
            self._end(run_id, attributes=attributes)

        def on_llm_error(self, error, *, run_id, **kwargs):
            self._end(run_id, error)

        def on_tool_start(self, serialized, input_str, *, run_id, parent_run_id=None, metadata=None, **kwargs):
            name = (serialized or {}).get("name") or kwargs.get("name") or "tool"
            attributes = {"hearth.tool_input": _attribute(input_str)} if self.record_content else {}
            self._start("tool", name, run_id, parent_run_id, metadata, attributes)

        def on_tool_end(self, output, *, run_id, **kwargs):
            self._end(run_id, attributes={"hearth.tool_output": _attribute(output)} if self.record_content else None)

        def on_tool_error(self, error, *, run_id, **kwargs):
            self._end(run_id, error)

        def on_retriever_start(self, serialized, query, *, run_id, parent_run_id=None, metadata=None, **kwargs):
            attributes = {"hearth.query": _attribute(query)} if self.record_content else {}
            self._start("retriever", kwargs.get("name") or "retriever", run_id, parent_run_id, metadata, attributes)

        def on_retriever_end(self, documents, *, run_id, **kwargs):
            self._end(run_id, attributes={"hearth.documents": len(documents)})

        def on_retriever_error(self, error, *, run_id, **kwargs):
            self._end(run_id, error)

    return TracingCallbackHandler


def configure_tracing(setting: str | None = None, *, record_content: bool | None = None) -> str:
    """Send the spans of every LangChain/LangGraph run in this process where `setting` (default
    $HEARTH_TRACING) says; returns the kind in effect. Safe to call more than once: the first
    exporter set up stays (OpenTelemetry allows one global tracer provider per process)."""
    import os

    kind, target = parse_tracing(os.environ.get("HEARTH_TRACING", "") if setting is None else setting)
    if kind == "off":
        return "off"
    if record_content is None:
        record_content = parse_flag(os.environ.get("HEARTH_TRACE_CONTENT", "off"), "HEARTH_TRACE_CONTENT")
    with _lock:
        if _configured:
            return _configured["kind"]
        from langchain_core.tracers.context import register_configure_hook
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME",
                                                                                           "hearth")}))
        if kind == "jsonl":
            path = Path(target) if target else data_home() / "traces" / "spans.jsonl"
            # Off the request path: spans queue in memory and a background thread writes them
            # (within a second, or at once when 512 are waiting; OTEL_BSP_SCHEDULE_DELAY and the other
            # OTEL_BSP_* variables change that); flush_tracing() and the exit hook write the rest.
            delay = None if os.environ.get("OTEL_BSP_SCHEDULE_DELAY") else 1000
            provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(path), schedule_delay_millis=delay))
            _configured["path"] = path
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=target)))
        trace.set_tracer_provider(provider)
        handler = _tracing_handler_class()(record_content=record_content)
        # A context variable whose default is the handler: every run in every thread picks it up.
        register_configure_hook(ContextVar("hearth_tracing", default=handler), True)
        _configured.update(kind=kind, provider=provider, handler=handler)
        import atexit

        atexit.register(provider.shutdown)
        return kind


def flush_tracing(timeout_s: float = 10.0) -> bool:
    """Write out every finished span still queued (True when all were written, or tracing is off).
    Servers call it on shutdown: a process ended by a signal skips the exit hook that would."""
    provider = _configured.get("provider")
    return True if provider is None else bool(provider.force_flush(int(timeout_s * 1000)))


def traces_path() -> Path | None:
    """Where the JSON-lines exporter writes, once configured."""
    return _configured.get("path")
