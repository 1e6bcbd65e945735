"""Chain-of-thought versus direct answering, both as one grammar-constrained JSON reply.

    langgraph dev --no-browser                                  # graph "reasoning" in Studio
    python -m evals.reasoning --limit 10                        # both modes side by side on logic puzzles

    from graphs.reasoning.graph import graph
    from graphs.reasoning.context import Context
    graph.invoke({"messages": [("human", "Ann is taller than Bob. Bob is taller than Carl. Who is the tallest?")],
                  "answer_kind": "choice", "choices": ["Ann", "Bob", "Carl"]}, context=Context(mode="cot"))

    START --(mode = cot)--> reason_then_answer --> END       {"reasoning": str, "answer": ...}
          \\--(mode = direct)--> answer_directly --> END     {"answer": ...}

The type of `answer` follows the state's `answer_kind` (Wei et al. 2022 compare chain-of-thought
with direct prompting the same way, on exact answers): `yes_no` -> "yes"|"no", `number` -> an
integer, `choice` -> one of `choices`, `text` -> a short string. Constraining the answer keeps a
small model's reply scoreable in both modes; `reasoning` comes first in the cot object, so the
answer is generated after (and conditioned on) the reasoning.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, ValidationError, create_model

from graphs.reasoning import prompts
from graphs.reasoning.context import Context
from graphs.reasoning.state import InputState, State
from models.messages import last_human_text

ANSWER_KINDS = ("yes_no", "number", "choice", "text")


def answer_type(kind: str, choices: list[str]):
    """The Python type of the constrained `answer` field for an answer kind.

    >>> answer_type("yes_no", [])
    typing.Literal['yes', 'no']
    """
    if kind == "yes_no":
        return Literal["yes", "no"]
    if kind == "number":
        return int
    if kind == "choice":
        if not choices:
            raise ValueError("answer_kind 'choice' needs the allowed answers in `choices`.")
        return Literal[tuple(choices)]
    if kind == "text":
        return str
    raise ValueError(f"Unknown answer_kind {kind!r}; use one of {', '.join(ANSWER_KINDS)}.")


def answer_schema(mode: str, kind: str, choices: list[str], reasoning_chars: int = 400) -> type[BaseModel]:
    """`{"reasoning": str, "answer": T}` for cot, `{"answer": T}` for direct (field order = generation order)."""
    answer = (answer_type(kind, choices), Field(description="the final answer", **({"max_length": 60} if kind == "text" else {})))
    if mode == "cot":
        reasoning = (str, Field(max_length=reasoning_chars, description="step-by-step reasoning"))
        return create_model("ReasonedAnswer", reasoning=reasoning, answer=answer)
    return create_model("DirectAnswer", answer=answer)


def ask(state: State, context: Context, mode: str) -> dict:
    """Ask the model in `mode` and return the state update (answer as text, reasoning, error)."""
    from models import load_chat_model

    question = last_human_text(state.messages).strip()
    schema = answer_schema(mode, state.answer_kind, state.choices, context.reasoning_chars)
    answer_format = prompts.ANSWER_FORMATS[state.answer_kind].format(choices=", ".join(state.choices))
    instruction = prompts.COT_INSTRUCTION if mode == "cot" else prompts.DIRECT_INSTRUCTION
    messages = [SystemMessage(content=prompts.SYSTEM_PROMPT),
                HumanMessage(content=prompts.USER_PROMPT.format(question=question, answer_format=answer_format,
                                                                instruction=instruction))]
    try:
        reply = load_chat_model(context.model).with_structured_output(schema).invoke(messages)
        parsed = reply if isinstance(reply, BaseModel) else schema.model_validate(reply)
    except (OutputParserException, ValidationError, ValueError) as exc:  # e.g. the JSON cut off by max_tokens
        error = f"The model gave no usable answer ({str(exc)[:160]}). Raise max_tokens or use a larger model."
        return {"question": question, "reasoning": "", "answer": "", "error": error,
                "messages": [AIMessage(content=error, additional_kwargs={"mode": mode, "answer": ""})]}
    answer, reasoning = str(parsed.answer), getattr(parsed, "reasoning", "").strip()
    content = f"{reasoning}\n\nAnswer: {answer}" if reasoning else answer
    return {"question": question, "reasoning": reasoning, "answer": answer, "error": "",
            "messages": [AIMessage(content=content, additional_kwargs={"mode": mode, "answer": answer,
                                                                       "reasoning": reasoning})]}


def reason_then_answer(state: State, runtime: Runtime[Context]) -> dict:
    return ask(state, runtime.context or Context(), "cot")


def answer_directly(state: State, runtime: Runtime[Context]) -> dict:
    return ask(state, runtime.context or Context(), "direct")


def route_by_mode(state: State, runtime: Runtime[Context]) -> Literal["reason_then_answer", "answer_directly"]:
    context = runtime.context or Context()
    return "reason_then_answer" if context.mode == "cot" else "answer_directly"


builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(reason_then_answer)
builder.add_node(answer_directly)
builder.add_conditional_edges(START, route_by_mode)
builder.add_edge("reason_then_answer", END)
builder.add_edge("answer_directly", END)

graph = builder.compile(name="reasoning")
