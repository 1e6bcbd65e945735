"""The shared half of the in-process chat models (llama.cpp and transformers).

A subclass supplies two methods, `_complete` and `_complete_stream`, that turn role/content
dicts into text, optionally under a JSON schema. Everything LangChain-facing lives here once:
message conversion, `bind_tools` with constrained tool calls (see `models.constrained`),
`with_structured_output` decoded under the output's schema, and streaming.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Sequence

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from pydantic import BaseModel

from models import constrained


class EmbeddedChatModel(BaseChatModel):
    """Base for chat models that decode in this process and can constrain their output."""

    temperature: float = 0.2
    max_tokens: int = 512
    max_string_length: int = 256  # cap on unbounded strings while decoding under a schema

    # -- what a backend implements -------------------------------------------------------
    def _complete(self, messages: list[dict], *, json_schema: dict | None, max_tokens: int,
                  temperature: float, stop: list[str] | None) -> tuple[str, dict]:
        raise NotImplementedError

    def _complete_stream(self, messages: list[dict], *, json_schema: dict | None, max_tokens: int,
                         temperature: float, stop: list[str] | None) -> Iterator[str]:
        raise NotImplementedError

    # -- LangChain plumbing ---------------------------------------------------------------
    def _prepare(self, messages: Sequence[BaseMessage], kwargs: dict) -> tuple[list[dict], dict | None, bool, dict]:
        """Chat dicts, the schema to decode under, whether the reply is a tool envelope, options."""
        tools = kwargs.pop("tools", None)
        tool_choice = kwargs.pop("tool_choice", None)
        # One call per reply unless asked: small models repeat a call until the array is full.
        parallel = kwargs.pop("parallel_tool_calls", False)
        response_format = kwargs.pop("response_format", None)
        kwargs.pop("ls_structured_output_format", None)
        options = {
            "max_tokens": int(kwargs.pop("max_tokens", self.max_tokens)),
            "temperature": float(kwargs.pop("temperature", self.temperature)),
        }
        if tools:
            definitions = constrained.tool_definitions(tools)
            choice = constrained.normalize_tool_choice(tool_choice, definitions)
            if choice != "none":
                schema = constrained.reply_schema(definitions, choice, parallel=bool(parallel))
                schema = constrained.bound_for_decoding(schema, self.max_string_length)
                chat = constrained.to_chat_dicts(messages, constrained.tools_instruction(definitions, choice))
                return chat, schema, True, options
        schema = _schema_of_response_format(response_format)
        extra = None
        if schema is not None:
            schema = constrained.bound_for_decoding(schema, self.max_string_length)
            extra = "Reply with a JSON object that follows this schema: " + json.dumps(schema)
        return constrained.to_chat_dicts(messages, extra), schema, False, options

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        chat, schema, is_tools, options = self._prepare(messages, dict(kwargs))
        text, meta = self._complete(chat, json_schema=schema, stop=stop, **options)
        message = constrained.ai_message_from_reply(text, constrained_tools=is_tools, **meta)
        usage = meta.get("usage")
        if usage:
            message.usage_metadata = {
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            }
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        chat, schema, is_tools, options = self._prepare(messages, dict(kwargs))
        if is_tools:
            # A tool envelope is only meaningful whole: decode it, then emit one chunk.
            text, meta = self._complete(chat, json_schema=schema, stop=stop, **options)
            message = constrained.ai_message_from_reply(text, constrained_tools=True, **meta)
            chunk = AIMessageChunk(
                content=message.content,
                tool_call_chunks=[
                    {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i, "type": "tool_call_chunk"}
                    for i, c in enumerate(message.tool_calls)
                ],
            )
            yield ChatGenerationChunk(message=chunk)
            return
        for piece in self._complete_stream(chat, json_schema=schema, stop=stop, **options):
            if run_manager:
                run_manager.on_llm_new_token(piece)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Runnable:
        definitions = constrained.tool_definitions(tools)
        constrained.normalize_tool_choice(tool_choice, definitions)  # fail early on a bad name
        return self.bind(tools=[{"type": "function", "function": d} for d in definitions],
                         tool_choice=tool_choice, **kwargs)

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kwargs: Any) -> Runnable:
        json_schema = convert_to_json_schema(schema)
        llm = self.bind(response_format={"type": "json_schema", "json_schema": {"schema": json_schema}})
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            parser: Runnable = PydanticOutputParser(pydantic_object=schema)
        else:
            parser = JsonOutputParser()
        parser = _explain_cut_off_json | parser
        if not include_raw:
            return llm | parser

        def parse_or_record(x: dict) -> dict:
            try:
                return {"parsed": parser.invoke(x["raw"]), "parsing_error": None}
            except Exception as exc:  # noqa: BLE001 - include_raw reports instead of raising
                return {"parsed": None, "parsing_error": exc}

        return RunnableMap(raw=llm) | RunnablePassthrough.assign(result=RunnableLambda(parse_or_record)) | RunnableLambda(
            lambda x: {"raw": x["raw"], **x["result"]}
        )


@RunnableLambda
def _explain_cut_off_json(message: AIMessage) -> AIMessage:
    """Raise IncompleteOutputError (which names the fix) when a structured reply was cut off."""
    constrained.parse_json_reply(message.content, message.response_metadata.get("finish_reason"))
    return message


def _schema_of_response_format(response_format: Any) -> dict | None:
    """The JSON schema inside an OpenAI-style response_format, or a permissive object schema
    for {"type": "json_object"}."""
    if not response_format:
        return None
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind == "json_schema":
            inner = response_format.get("json_schema", {})
            return inner.get("schema", inner)
        if kind == "json_object":
            return response_format.get("schema") or {"type": "object"}
        if kind == "text":
            return None
    return convert_to_json_schema(response_format)
