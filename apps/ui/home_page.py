"""Streamlit page: chat with the home agent beside a live device panel. Start it with
`python -m apps.home`."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root (see apps/ui/__init__.py)

import models  # noqa: E402,F401  (offline switches first)
from models.settings import configured_model  # noqa: E402
import streamlit as st  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.types import Command  # noqa: E402

from apps.home import ensure_hub  # noqa: E402
from graphs.react_agent.context import Context  # noqa: E402
from graphs.react_agent.graph import builder  # noqa: E402
from tools.home.client import HomeAssistantClient, HomeHubError  # noqa: E402

ICONS = {"light": "💡", "switch": "🔌", "fan": "🌀", "climate": "🌡️", "lock": "🔒", "cover": "🪟",
         "alarm_control_panel": "🚨", "sensor": "📟", "binary_sensor": "👁️"}
EXAMPLES = ["make it warmer in here", "turn off the kitchen light", "set the bedroom blinds to 30%",
            "unlock the front door", "what's the temperature outside"]


@st.cache_resource(show_spinner=False)
def hub_url() -> str:
    return ensure_hub()


@st.cache_resource(show_spinner=False)
def agent_graph():
    return builder.compile(checkpointer=InMemorySaver(), name="react_agent")


def context() -> Context:
    return Context(toolset="home", hub_url=hub_url(), model=st.session_state.get("model", configured_model("tools")),
                   local_commands=not st.session_state.get("model_only", False))


def describe(state: dict) -> str:
    attrs = state["attributes"]
    domain = state["entity_id"].split(".")[0]
    value = state["state"]
    if domain == "climate":
        value = f"{value} · set {attrs.get('temperature')}°C · now {attrs.get('current_temperature')}°C"
    elif domain == "light" and state["state"] == "on":
        value = f"on · {attrs.get('brightness_pct')}%"
    elif domain == "cover":
        value = f"{value} · {attrs.get('current_position')}%"
    elif domain == "sensor":
        value = f"{value} {attrs.get('unit_of_measurement', '')}"
    return value


@st.fragment(run_every=3)
def device_panel() -> None:
    st.subheader("Devices")
    try:
        states = HomeAssistantClient(hub_url()).states()
    except HomeHubError as exc:
        st.error(str(exc))
        return
    areas: dict[str, list[dict]] = {}
    for s in states:
        areas.setdefault(s["attributes"].get("area", "other"), []).append(s)
    for area, members in sorted(areas.items()):
        st.markdown(f"**{area.title()}**")
        for s in members:
            icon = ICONS.get(s["entity_id"].split(".")[0], "•")
            st.markdown(f"{icon} {s['attributes'].get('friendly_name', s['entity_id'])}: `{describe(s)}`")


def send(command: str | Command) -> None:
    config = {"configurable": {"thread_id": st.session_state.thread_id}}
    payload = command if isinstance(command, Command) else {"messages": [("human", command)]}
    with st.spinner("Working…"):
        try:
            state = agent_graph().invoke(payload, config, context=context())
        except HomeHubError as exc:
            st.session_state.turns.append({"role": "assistant", "content": f"⚠️ {exc}"})
            return
    if "__interrupt__" in state:
        st.session_state.pending = state["__interrupt__"][0].value["question"]
        return
    st.session_state.pending = None
    st.session_state.turns.append({"role": "assistant", "content": state["messages"][-1].content})


def main() -> None:
    st.set_page_config(page_title="Hearth · home", page_icon="🏠", layout="wide")
    st.session_state.setdefault("thread_id", uuid.uuid4().hex)
    st.session_state.setdefault("turns", [])
    st.session_state.setdefault("pending", None)
    with st.sidebar:
        st.header("Settings")
        st.text_input("Model spec", value=configured_model("tools"), key="model")
        st.checkbox("Model picks every call (skip the sentence matcher)", key="model_only")
        st.caption(f"Hub: {hub_url()}")
    chat, devices = st.columns([3, 2])
    with devices:
        device_panel()
    with chat:
        st.title("Home assistant")
        st.caption("Try: " + " · ".join(f"“{e}”" for e in EXAMPLES))
        for turn in st.session_state.turns:
            with st.chat_message(turn["role"]):
                st.markdown(turn["content"])
        if st.session_state.pending:
            st.warning(st.session_state.pending)
            yes, no = st.columns(2)
            if yes.button("Yes, do it", type="primary"):
                send(Command(resume="yes"))
                st.rerun()
            if no.button("No"):
                send(Command(resume="no"))
                st.rerun()
    command = st.chat_input("Tell the house what to do…", disabled=bool(st.session_state.pending))
    if command:
        st.session_state.turns.append({"role": "user", "content": command})
        send(command)
        st.rerun()


main()
