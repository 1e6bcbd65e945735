"""Run-time settings of the ReAct agent (LangGraph `context`); defaults come from environment
variables so `langgraph dev` and the apps are configured without code."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.settings import BaseContext, task_model_field, env, env_flag


@dataclass(kw_only=True)
class Context(BaseContext):
    model: str = task_model_field('tools')
    toolset: str = field(default_factory=env("HEARTH_TOOLSET", "basic"), metadata={
        "description": "Which tools the agent has: basic (calculator, weather, knowledge search) or home "
                       "(the devices of a Home Assistant hub). Env: HEARTH_TOOLSET."})
    hub_url: str = field(default_factory=env("HEARTH_HUB_URL", ""), metadata={
        "description": "Home Assistant (or `python -m apps.home_hub`) URL for the home toolset. Env: HEARTH_HUB_URL."})
    exposed: str = field(default_factory=env("HEARTH_EXPOSED", ""), metadata={
        "description": "Comma-separated entity ids the home agent may use (empty = all). Env: HEARTH_EXPOSED."})
    max_tool_errors: int = field(default_factory=env("HEARTH_MAX_TOOL_ERRORS", 2, int), metadata={
        "description": "Failed tool calls in a row before the agent stops retrying and explains. Env: HEARTH_MAX_TOOL_ERRORS."})
    tool_shortlist: int = field(default_factory=env("HEARTH_TOOL_SHORTLIST", 4, int), metadata={
        "description": "Show the model only the N tools whose descriptions best match the request (0 = all). "
                       "Small models choose far better among a few tools. Env: HEARTH_TOOL_SHORTLIST."})
    tool_routing_threshold: float = field(default_factory=env("HEARTH_TOOL_ROUTING", 0.25, float), metadata={
        "description": "When one tool's description matches the request at least this well (cosine, bundled "
                       "embeddings) and clearly better than the others, the model is asked only for that tool's "
                       "arguments (0 = off). Env: HEARTH_TOOL_ROUTING."})
    tool_routing_margin: float = field(default_factory=env("HEARTH_TOOL_ROUTING_MARGIN", 0.1, float), metadata={
        "description": "How far ahead of the next tool the routed tool must be. Env: HEARTH_TOOL_ROUTING_MARGIN."})
    embeddings: str = field(default_factory=env("HEARTH_EMBEDDINGS", "local"), metadata={
        "description": "Embedding model spec used to shortlist tools. Env: HEARTH_EMBEDDINGS."})
    tool_assist: str = field(default_factory=env("HEARTH_TOOL_ASSIST", "auto"), metadata={
        "description": "Help for a small model choosing calls: the sentence matcher first (local_commands), the tool "
                       "shortlist and routing. 'on', 'off' (the model sees every tool and decides alone) or 'auto': off "
                       "for a model this framework fine-tuned on tool calls (its registry entry or export says so), "
                       "on for any other. Measured on 240 blind home commands with the GPU tool fine-tune: alone 174, "
                       "helped 149 (p = 0.007); with the bundled model the help is most of the score. Env: HEARTH_TOOL_ASSIST."})
    local_commands: bool = field(default_factory=env_flag("HEARTH_LOCAL_COMMANDS", True), metadata={
        "description": "Let a toolset's sentence matcher handle the commands it recognises before asking the model "
                       "(as Home Assistant's 'prefer handling commands locally'). Env: HEARTH_LOCAL_COMMANDS."})

    def assisted(self) -> bool:
        """Whether the matcher, shortlist and routing run for this model (`tool_assist`)."""
        if self.tool_assist not in ("auto", "on", "off"):
            raise ValueError(f"tool_assist={self.tool_assist!r} is not one of auto, on, off (HEARTH_TOOL_ASSIST).")
        if self.tool_assist != "auto":
            return self.tool_assist == "on"
        from models.registry import model_task

        return model_task(self.model) != "tool_calls"
