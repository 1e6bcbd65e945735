"""Run-time settings of the RAG graph (LangGraph `context`). Each default comes from an
environment variable when set, so `langgraph dev` and the apps can be configured without code;
a value passed explicitly always wins."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.settings import BaseContext, task_model_field, env


@dataclass(kw_only=True)
class Context(BaseContext):
    model: str = task_model_field('rag')
    embeddings: str = field(default_factory=env("HEARTH_EMBEDDINGS", "local"), metadata={
        "description": "Embedding model spec (local = bundled all-MiniLM-L6-v2; "
                       "local?query_encoder=FOLDER embeds queries with a static encoder from training.query_distill, "
                       "about 0.1 ms instead of 20-40 ms). Env: HEARTH_EMBEDDINGS."})
    collection: str = field(default_factory=env("HEARTH_COLLECTION", "handbook"), metadata={
        "description": "Qdrant collection to search. Env: HEARTH_COLLECTION."})
    index_location: str = field(default_factory=env("HEARTH_INDEX", ""), metadata={
        "description": "Qdrant local-mode folder or server URL; empty = $QDRANT_URL or .hearth/qdrant. Env: HEARTH_INDEX."})
    top_k: int = field(default_factory=env("HEARTH_TOP_K", 4, int), metadata={
        "description": "Chunks retrieved per question. Env: HEARTH_TOP_K."})
    evidence_sentences: int = field(default_factory=env("HEARTH_EVIDENCE_SENTENCES", -1, int), metadata={
        "description": "Show the model only this many best-matching sentences of the retrieved chunks (0 = whole "
                       "chunks; -1 = auto: 2 for models run in-process, the bundled 135M model and its fine-tunes (local, gguf:, hf:, "
                       "registry:), whole chunks for served models). Env: HEARTH_EVIDENCE_SENTENCES."})
    answerability: str = field(default_factory=env("HEARTH_ANSWERABILITY", "rules"), metadata={
        "description": "Check that the sources cover the question before answering (rag.answerability): 'rules' "
                       "(names and terms the collection lacks, similarity; no model call), 'strict' (the same checks, tighter: "
                       "more near misses refused, and more answerable questions in users' own words), 'rules+model' (plus the "
                       "model's constrained yes/no grade), 'trained' (names plus the cross-encoder that "
                       "`python -m training.answerability` trains; HEARTH_ANSWER_CHECKER) or 'off'. Env: HEARTH_ANSWERABILITY."})
    history_turns: int = field(default_factory=env("HEARTH_HISTORY_TURNS", 3, int), metadata={
        "description": "Earlier question/answer pairs shown to the model. Env: HEARTH_HISTORY_TURNS."})

    def evidence_limit(self) -> int:
        if self.evidence_sentences >= 0:
            return self.evidence_sentences
        from models.spec import runs_in_process

        return 2 if runs_in_process(self.model) else 0
