"""Reading chat messages: the text of a message is LangChain's `message.text`; the question a
graph answers is the last human message.

    >>> from langchain_core.messages import AIMessage, HumanMessage
    >>> last_human_text([HumanMessage("Hi"), AIMessage("Hello"), HumanMessage("How many days?")])
    'How many days?'
    >>> last_human_text([AIMessage("Hello")])
    ''
"""

from __future__ import annotations

from typing import Any, Iterable


def last_human_text(messages: Iterable[Any]) -> str:
    """The text of the last human message ('' when there is none)."""
    human = next((m for m in reversed(list(messages)) if m.type == "human"), None)
    return str(human.text) if human is not None else ""
