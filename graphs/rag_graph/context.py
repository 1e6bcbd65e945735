"""Run-time settings of the graph-RAG graph (LangGraph `context`). Each default comes from an
environment variable when set; a value passed explicitly always wins."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.settings import BaseContext, task_model_field, env


@dataclass(kw_only=True)
class Context(BaseContext):
    model: str = task_model_field('rag')
    graph_store: str = field(default_factory=env("HEARTH_GRAPH", ""), metadata={
        "description": "Graph store: a folder for the embedded Kùzu database (empty = .hearth/graph), :memory:, "
                       "or a Neo4j URL bolt://user:password@host:7687. Env: HEARTH_GRAPH."})
    free_cypher: str = field(default_factory=env("HEARTH_FREE_CYPHER", "auto"), metadata={
        "description": "Let the model write Cypher (validated, read-only, parameterised) when no traversal fits: "
                       "on, off, or auto (off for the bundled 135M model, on for others). Env: HEARTH_FREE_CYPHER."})
    planner: str = field(default_factory=env("HEARTH_GRAPH_PLANNER", "auto"), metadata={
        "description": "Who picks the traversal: auto (rules, the model only to break a tie), model (the model "
                       "always picks among the fitting ones, under a schema constraint), rules. Env: HEARTH_GRAPH_PLANNER."})
    answerability: str = field(default_factory=env("HEARTH_ANSWERABILITY", "rules"), metadata={
        "description": "Say so when the question names a person, film or year the graph does not hold, instead of "
                       "answering the rest of it: 'rules' or 'off'. Env: HEARTH_ANSWERABILITY."})
    max_listed: int = field(default_factory=env("HEARTH_GRAPH_MAX_LISTED", 8, int), metadata={
        "description": "Most results named in an answer. Env: HEARTH_GRAPH_MAX_LISTED."})

    def model_writes_cypher(self) -> bool:
        if self.free_cypher in ("on", "off"):
            return self.free_cypher == "on"
        return self.model.split("?")[0] != "local"
