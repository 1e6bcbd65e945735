"""Run-time settings of the agentic RAG graph: those of the `rag` graph (model, embeddings,
index, top_k per sub-question, ...) with the travel guides as the default collection, plus how
questions are planned and answers written. Each default comes from an environment variable when
set; a value passed explicitly always wins."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphs.rag.context import Context as RagContext
from models.settings import env

LOCAL_MODEL = "local"
MODE_CHOICES = ("auto", "model", "template")


@dataclass(kw_only=True)
class Context(RagContext):
    collection: str = field(default_factory=env("HEARTH_COLLECTION", "travel"), metadata={
        "description": "Qdrant collection to search ('travel' = the bundled Lisbon guides, indexed on first use). "
                       "Env: HEARTH_COLLECTION."})
    max_sub_questions: int = field(default_factory=env("HEARTH_MAX_SUB_QUESTIONS", 8, int), metadata={
        "description": "At most this many sub-questions, each retrieved in parallel. Env: HEARTH_MAX_SUB_QUESTIONS."})
    planner: str = field(default_factory=env("HEARTH_PLANNER", "auto"), metadata={
        "description": "Who splits the question: 'model' (structured output, checked; fallbacks below), 'template' "
                       "(day-by-day topics for trip plans, a split at 'and' / '?' otherwise) or 'auto' (template for "
                       "trip plans on the bundled 135M model, model otherwise). Env: HEARTH_PLANNER."})
    synthesis: str = field(default_factory=env("HEARTH_SYNTHESIS", "auto"), metadata={
        "description": "Who writes the answer: 'model' (one call over all numbered evidence, checked), 'template' "
                       "(the best evidence sentences per sub-question or day, cited) or 'auto' (template on the "
                       "bundled 135M model, model otherwise). Env: HEARTH_SYNTHESIS."})
    sentences_per_sub_question: int = field(default_factory=env("HEARTH_SENTENCES_PER_SUB_QUESTION", 2, int), metadata={
        "description": "Evidence sentences per sub-question in a templated answer. Env: HEARTH_SENTENCES_PER_SUB_QUESTION."})

    def __post_init__(self) -> None:
        if parent := getattr(super(), "__post_init__", None):
            parent()
        for name, env in (("planner", "HEARTH_PLANNER"), ("synthesis", "HEARTH_SYNTHESIS")):
            if getattr(self, name) not in MODE_CHOICES:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {', '.join(MODE_CHOICES)} "
                                 f"(set it in the context or with {env}).")
        if self.max_sub_questions < 1:
            raise ValueError(f"max_sub_questions={self.max_sub_questions} must be at least 1 (HEARTH_MAX_SUB_QUESTIONS).")

    def on_small_model(self) -> bool:
        return self.model.split("?")[0] == LOCAL_MODEL

    def planner_mode(self, is_plan: bool) -> str:
        if self.planner != "auto":
            return self.planner
        return "template" if is_plan and self.on_small_model() else "model"

    def synthesis_mode(self) -> str:
        if self.synthesis != "auto":
            return self.synthesis
        return "template" if self.on_small_model() else "model"
