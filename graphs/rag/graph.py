"""RAG chat: retrieve chunks from a Qdrant collection, answer with numbered citations.

    python -m apps.ask "How many days of annual leave do I get?"     # CLI
    python -m apps.chat                                              # Streamlit
    langgraph dev --no-browser                                       # graph "rag" in Studio

    retrieve --> check_answerability --(sources cover the question)--> generate_answer
                                     \\--(they do not: say what the collection covers)--> abstain
                                     \\--(empty index / no match)--> answer_without_sources

The parts live in `rag/`: the knowledge base (`rag.answering.open_knowledge_base`) and the cited
answer (`rag.answering.answer_with_citations`). Memory across turns comes from the checkpointer the
graph is compiled with (`graphs.checkpointing.open_checkpointer`): pass
`{"configurable": {"thread_id": ...}}`.
"""

from __future__ import annotations

from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime

from graphs.rag.context import Context
from graphs.rag.state import InputState, State
from models.messages import last_human_text
from rag.answer_steps import add_answer_steps
from rag.answering import knowledge_base_for


def retrieve(state: State, runtime: Runtime[Context]) -> dict:
    context = runtime.context or Context()
    question = last_human_text(state.messages)
    chunks = knowledge_base_for(context).search(question, k=context.top_k) if question else []
    return {"question": question, "retrieved": chunks, "citations": []}


builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(retrieve)
builder.add_edge(START, "retrieve")
# the lambda looks knowledge_base_for up when called, so a test can replace it in this module
add_answer_steps(builder, Context, after="retrieve", knowledge_base=lambda context: knowledge_base_for(context))

graph = builder.compile(name="rag")
