"""Constitutional critique-and-revise: draft an answer, critique it against each principle, revise.

    langgraph dev --no-browser                            # graph "constitutional" in Studio
    HEARTH_PRINCIPLES="Never give medical dosages.;Answer in plain words." langgraph dev

    from graphs.constitutional.graph import graph
    graph.invoke({"messages": [("human", "How do I get back at my noisy neighbour?")]})

    draft_answer -> critique_draft --(a principle is broken, rounds left)--> revise_draft -> critique_draft ...
                                  \\--(no violation, or no rounds left)--> finalize_answer -> END

One constrained JSON reply per principle: `{"violates": bool, "critique": str}` (`Critique`), so
any model, the bundled 135M one included, returns a usable verdict; a reply that cannot be read
counts as "no violation" and is recorded as such in `critiques` (with the error). The final
message carries the drafts and the critiques in `additional_kwargs["constitutional"]`.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, ValidationError, create_model

from graphs.constitutional import prompts
from graphs.constitutional.context import Context
from graphs.constitutional.state import InputState, State
from models.messages import last_human_text


class Critique(BaseModel):
    """The verdict on one principle."""

    violates: bool = Field(description="true when the answer breaks the principle")
    critique: str = Field(description="one sentence: what breaks the principle, or why it is fine")


def critique_schema(max_chars: int) -> type[BaseModel]:
    """`Critique` with the critique capped at `max_chars` (the grammar stops the model there)."""
    return create_model("Critique", __base__=Critique,
                        critique=(str, Field(max_length=max_chars, description=Critique.model_fields["critique"].description)))


def draft_answer(state: State, runtime: Runtime[Context]) -> dict:
    from models import load_chat_model

    context = runtime.context or Context()
    question = last_human_text(state.messages).strip()
    reply = load_chat_model(context.model).invoke([SystemMessage(content=prompts.DRAFT_SYSTEM_PROMPT),
                                                   HumanMessage(content=question)])
    draft = reply.text.strip()
    return {"question": question, "draft": draft, "drafts": [draft], "critiques": [], "revisions": 0}


def critique_against(principle: str, question: str, draft: str, context: Context) -> dict:
    """One principle's verdict as a record: {"principle", "violates", "critique"} (+ "error")."""
    from models import load_chat_model

    model = load_chat_model(context.model).with_structured_output(critique_schema(context.critique_chars))
    prompt = prompts.CRITIQUE_PROMPT.format(principle=principle, question=question, draft=draft)
    try:
        reply = model.invoke([HumanMessage(content=prompt)])
        verdict = reply if isinstance(reply, Critique) else Critique.model_validate(reply)
    except (OutputParserException, ValidationError, ValueError) as exc:  # e.g. JSON cut off by max_tokens
        return {"principle": principle, "violates": False, "critique": "", "error": str(exc)[:200]}
    return {"principle": principle, "violates": bool(verdict.violates), "critique": verdict.critique.strip()}


def critique_draft(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    return {"critiques": [critique_against(p, state.question, state.draft, context) for p in context.principles]}


def route_after_critique(state: State, runtime: Runtime[Context]) -> Literal["revise_draft", "finalize_answer"]:
    context = runtime.context or Context()
    broken = any(c["violates"] for c in state.critiques)
    return "revise_draft" if broken and state.revisions < context.max_revisions else "finalize_answer"


def revise_draft(state: State, runtime: Runtime[Context]) -> dict:
    from models import load_chat_model

    context = runtime.context or Context()
    problems = "\n".join(f"- {c['principle']} {c['critique']}".strip() for c in state.critiques if c["violates"])
    reply = load_chat_model(context.model).invoke([
        SystemMessage(content=prompts.REVISE_SYSTEM_PROMPT),
        HumanMessage(content=prompts.REVISE_PROMPT.format(question=state.question, draft=state.draft, problems=problems))])
    revised = reply.text.strip() or state.draft
    return {"draft": revised, "drafts": [*state.drafts, revised], "revisions": state.revisions + 1}


def finalize_answer(state: State) -> dict:
    record = {"drafts": state.drafts, "critiques": state.critiques, "revisions": state.revisions,
              "violations_left": [c["principle"] for c in state.critiques if c["violates"]]}
    return {"messages": [AIMessage(content=state.draft, additional_kwargs={"constitutional": record})]}


builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(draft_answer)
builder.add_node(critique_draft)
builder.add_node(revise_draft)
builder.add_node(finalize_answer)
builder.add_edge(START, "draft_answer")
builder.add_edge("draft_answer", "critique_draft")
builder.add_conditional_edges("critique_draft", route_after_critique)
builder.add_edge("revise_draft", "critique_draft")
builder.add_edge("finalize_answer", END)

graph = builder.compile(name="constitutional")
