"""OpenAI chat messages, tools and options to LangChain, and LangChain replies back to OpenAI objects."""

from __future__ import annotations

import base64
import json
import struct
import uuid
from typing import Any

from models.serving.errors import APIError
from models.serving.schemas import ChatCompletionRequest, ChatMessageIn

FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")

def message_text(content: Any) -> str:
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
            out.append(SystemMessage(content=message_text(m.content)))
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
            out.append(AIMessage(content=message_text(m.content), tool_calls=calls))
        else:  # tool
            if not m.tool_call_id:
                raise APIError(400, f"messages[{i}] has role 'tool' but no tool_call_id.",
                               param=f"messages.{i}.tool_call_id")
            name = m.name or tool_names.get(m.tool_call_id)
            out.append(ToolMessage(content=message_text(m.content), tool_call_id=m.tool_call_id,
                                   **({"name": name} if name else {})))
    return out


def read_tool_choice(body: ChatCompletionRequest) -> Any:
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


def read_response_format(body: ChatCompletionRequest) -> dict | None:
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
    choice = read_tool_choice(body)
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
    fmt = read_response_format(body)
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


def finish_reason(reported: Any, has_tool_calls: bool) -> str:
    if has_tool_calls:
        return "tool_calls"
    return reported if reported in FINISH_REASONS else "stop"


def usage_dict(usage_metadata: dict | None) -> dict | None:
    if not usage_metadata:
        return None
    prompt = int(usage_metadata.get("input_tokens") or 0)
    completion = int(usage_metadata.get("output_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": int(usage_metadata.get("total_tokens") or prompt + completion)}


def approx_tokens(text: str) -> int:
    return len(text.split())


def completion_body(message: Any, *, completion_id: str, model: str, created: int) -> dict:
    """An AIMessage as an OpenAI chat.completion object."""
    calls = [
        {"id": c.get("id") or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
         "function": {"name": c["name"], "arguments": json.dumps(c.get("args") or {})}}
        for c in (getattr(message, "tool_calls", None) or [])
    ]
    text = message_text(message.content)
    out_message: dict[str, Any] = {"role": "assistant", "content": text if (text or not calls) else None}
    if calls:
        out_message["tool_calls"] = calls
    meta = getattr(message, "response_metadata", None) or {}
    finish = finish_reason(meta.get("finish_reason") or meta.get("done_reason"), bool(calls))
    body = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": out_message, "logprobs": None,
                     "finish_reason": finish}],
    }
    usage = usage_dict(getattr(message, "usage_metadata", None))
    if usage:
        body["usage"] = usage
    return body


def embedding_texts(value: str | list[Any]) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not value:
        raise APIError(400, "input must not be empty.", param="input")
    if all(isinstance(v, str) for v in value):
        return list(value)
    raise APIError(400, "This server embeds text, not token ids: send `input` as a string or a list of strings. "
                        "(LangChain: OpenAIEmbeddings(..., check_embedding_ctx_length=False); "
                        "load_embeddings('openai:NAME@URL') already does.)", param="input")


def base64_floats(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
