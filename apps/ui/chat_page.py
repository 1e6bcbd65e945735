"""Streamlit page: chat over the RAG graphs (mode picker: rag, rag_hybrid, rag_conversational,
rag_agentic, rag_graph) with streamed tokens, cited sources with scores, a model picker and
document upload. Start it with `python -m apps.chat`."""

from __future__ import annotations

import sys
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root (see apps/ui/__init__.py)

import models  # noqa: E402,F401  (offline switches first)
import streamlit as st  # noqa: E402

from graphs.chat_modes import MODES, ChatMode  # noqa: E402
from graphs.checkpointing import open_checkpointer  # noqa: E402
from rag.answering import open_knowledge_base  # noqa: E402
from rag.documents import SUPPORTED_SUFFIXES  # noqa: E402
from models.settings import configured_model, data_home  # noqa: E402

MODEL_PRESETS = ["local", "ollama:llama3.2", "openai:local@http://127.0.0.1:8008/v1", "custom…"]


@st.cache_resource(show_spinner=False)
def chat_memory() -> ExitStack:
    """One checkpointer per app process; the stack keeps its connection open."""
    stack = ExitStack()
    stack.checkpointer = stack.enter_context(open_checkpointer())
    return stack


@st.cache_resource(show_spinner=False)
def compiled_graph(mode_name: str):
    """Each mode's graph is compiled once per process, all sharing the one checkpointer."""
    return MODES[mode_name].compile(checkpointer=chat_memory().checkpointer)


def sidebar() -> tuple[ChatMode, object]:
    with st.sidebar:
        st.header("Settings")
        names = list(MODES)
        mode = MODES[st.selectbox("Mode", names, format_func=lambda n: f"{n}: {MODES[n].title}", key="mode")]
        if st.session_state.get("thread_mode") != mode.name:  # a new conversation per mode
            st.session_state.thread_mode = mode.name
            st.session_state.thread_id = uuid.uuid4().hex
            st.session_state.turns = []
        default_model = configured_model()
        presets = MODEL_PRESETS if default_model in MODEL_PRESETS else [default_model, *MODEL_PRESETS]
        choice = st.selectbox("Model", presets, index=presets.index(default_model), key="model_choice")
        model = st.text_input("Model spec", value="local", key="model_custom") if choice == "custom…" else choice
        context = mode.make_context(model=model)
        if hasattr(context, "collection"):
            collection = st.text_input("Collection", value=context.collection, key=f"collection_{mode.name}")
            top_k = st.slider("Sources per answer", 1, 8, getattr(context, "top_k", 4), key="top_k")
            context = mode.make_context(model=model, collection=collection, top_k=top_k)
        if mode.prepare:
            with st.spinner(f"First start: indexing {mode.demo_data}…"):
                mode.prepare_data(context)
        if hasattr(context, "collection"):
            kb = open_knowledge_base(context.collection, context.index_location, context.embeddings)
            st.caption(f"{kb.count()} chunks indexed in '{context.collection}'")
            upload(kb)
        if st.button("New conversation"):
            st.session_state.thread_id = uuid.uuid4().hex
            st.session_state.turns = []
    return mode, context


def upload(kb) -> None:
    files = st.file_uploader("Add documents", type=[s.lstrip(".") for s in SUPPORTED_SUFFIXES],
                             accept_multiple_files=True, key="uploads")
    if not files or not st.button("Index uploaded files"):
        return
    folder = data_home() / "uploads" / kb.collection
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in files:
        path = folder / Path(f.name).name
        path.write_bytes(f.getvalue())
        paths.append(path)
    bar = st.progress(0.0, text="Indexing…")
    report = kb.ingest(paths, progress=lambda done, total, name: bar.progress(done / max(total, 1), text=f"Indexing {name}"))
    bar.empty()
    st.success(f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged "
               f"({report.chunks} chunks)")
    for error in report.errors:
        st.error(str(error))


def show_sources(citations: list[dict]) -> None:
    if not citations:
        return
    cited = [c for c in citations if c["cited"]]
    if cited:
        st.caption("Cited: " + " · ".join(f"[{c['number']}] {c['label']}" for c in cited))
    with st.expander(f"Sources ({len(citations)})", expanded=False):
        for c in citations:
            mark = {"model": "**cited**", "overlap": "**cited** (restated)"}.get(c.get("cited_by"), "retrieved")
            score = f" · score {c['score']:.3f}" if isinstance(c.get("score"), (int, float)) else ""
            st.markdown(f"**[{c['number']}] {c.get('label', c.get('source', ''))}**{score} · {mark}")
            if c.get("evidence"):
                st.markdown(f"> {c['evidence']}")
            if c.get("text"):
                st.text(c["text"][:600])  # raw text: a chunk's markdown headings must not render as page headings


NOT_COVERED = "Not in the documents"


def show_answer(container, answer: str, abstained: bool) -> None:
    """An abstention is shown as what it is: a notice that the documents do not cover the
    question (with what they do cover), not as an answer with an empty source list."""
    if abstained:
        container.warning(f"**{NOT_COVERED}.** {answer}", icon="🔎")
    else:
        container.markdown(answer)


def main() -> None:
    st.set_page_config(page_title="Hearth · chat", page_icon="🔥")
    st.session_state.setdefault("thread_id", uuid.uuid4().hex)
    st.session_state.setdefault("turns", [])
    mode, context = sidebar()
    st.title("Ask the handbook" if mode.name == "rag" else mode.title)
    for turn in st.session_state.turns:
        with st.chat_message(turn["role"]):
            show_answer(st, turn["content"], turn.get("abstained", False))
            show_sources(turn.get("citations", []))
    question = st.chat_input(mode.placeholder)
    if not question:
        return
    st.session_state.turns.append({"role": "user", "content": question})
    with st.chat_message("user"):
        st.markdown(question)
    graph = compiled_graph(mode.name)
    config = {"configurable": {"thread_id": st.session_state.thread_id}}
    with st.chat_message("assistant"):
        placeholder = st.empty()
        try:
            def tokens():
                for chunk, meta in graph.stream({"messages": [("human", question)]}, config, context=context,
                                                stream_mode="messages"):
                    if meta.get("langgraph_node") in mode.answer_nodes and chunk.content and chunk.type == "AIMessageChunk":
                        yield chunk.content
            placeholder.write_stream(tokens())
        except Exception as exc:  # noqa: BLE001 - shown to the user with its fix
            st.error(f"{type(exc).__name__}: {exc}")
            return
        values = graph.get_state(config).values
        final = values["messages"][-1]
        # The final text can differ from the streamed tokens (a citation attributed afterwards).
        answer = final.additional_kwargs.get("answer_text", final.content)
        abstained = bool(final.additional_kwargs.get("abstained"))
        show_answer(placeholder, answer, abstained)
        citations = [] if abstained else values.get("citations", [])
        show_sources(citations)
    st.session_state.turns.append({"role": "assistant", "content": answer, "citations": citations,
                                   "abstained": abstained})


main()
