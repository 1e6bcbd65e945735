"""Run-time settings of the text-to-SQL graph (LangGraph `context`). Each default comes from an
environment variable when set; a value passed explicitly always wins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.settings import BaseContext, task_model_field, env, env_flag

SOURCES = ("model+examples", "model", "examples")


@dataclass(kw_only=True)
class Context(BaseContext):
    model: str = task_model_field('sql')
    database: str = field(default_factory=env("HEARTH_SQL_DATABASE", ""), metadata={
        "description": "SQLite path, postgresql:// URL or any SQLAlchemy URL; empty = the sample business database. Env: HEARTH_SQL_DATABASE."})
    examples: str = field(default_factory=env("HEARTH_SQL_EXAMPLES", ""), metadata={
        "description": "JSONL example store (DDL, documentation, question/SQL pairs); empty = $HEARTH_HOME/text2sql/examples.jsonl. Env: HEARTH_SQL_EXAMPLES."})
    similarity: str = field(default_factory=env("HEARTH_SQL_SIMILARITY", "embeddings"), metadata={
        "description": "How examples are found: 'embeddings' (bundled MiniLM, measured best on GeoQuery) or 'tfidf'. Env: HEARTH_SQL_SIMILARITY."})
    max_attempts: int = field(default_factory=env("HEARTH_SQL_MAX_ATTEMPTS", 3, int), metadata={
        "description": "Generate/check rounds before giving up. Env: HEARTH_SQL_MAX_ATTEMPTS."})
    few_shot: int = field(default_factory=env("HEARTH_SQL_FEW_SHOT", 3, int), metadata={
        "description": "Similar question/SQL examples shown to the model (0 = zero-shot). Env: HEARTH_SQL_FEW_SHOT."})
    schema_linking: bool = field(default_factory=env_flag("HEARTH_SQL_SCHEMA_LINKING", True), metadata={
        "description": "Show only the linked tables and the question's cell values (off = the whole DDL). Env: HEARTH_SQL_SCHEMA_LINKING."})
    self_correction: bool = field(default_factory=env_flag("HEARTH_SQL_SELF_CORRECTION", True), metadata={
        "description": "Repair with sqlglot, score adapted example SQL by execution, regenerate with the error. Env: HEARTH_SQL_SELF_CORRECTION."})
    grammar: bool = field(default_factory=env_flag("HEARTH_SQL_GRAMMAR", True), metadata={
        "description": "Decode SQL under a grammar of the linked schema (llama.cpp models only). Env: HEARTH_SQL_GRAMMAR."})
    example_trust: float = field(default_factory=env("HEARTH_SQL_EXAMPLE_TRUST", 0.9, float), metadata={
        "description": "Similarity of the best example above which its adapted SQL is tried before the model's. Env: HEARTH_SQL_EXAMPLE_TRUST."})
    timeout_s: float = field(default_factory=env("HEARTH_SQL_TIMEOUT", 5.0, float), metadata={
        "description": "Statement timeout in seconds. Env: HEARTH_SQL_TIMEOUT."})
    max_rows: int = field(default_factory=env("HEARTH_SQL_MAX_ROWS", 500, int), metadata={
        "description": "Row cap of a result. Env: HEARTH_SQL_MAX_ROWS."})
    max_tokens: int = field(default_factory=env("HEARTH_SQL_MAX_TOKENS", 160, int), metadata={
        "description": "Token budget of one generated query. Env: HEARTH_SQL_MAX_TOKENS."})
    today: str = field(default_factory=env("HEARTH_SQL_TODAY", ""), metadata={
        "description": "Reference date (YYYY-MM-DD) for 'last quarter', 'this year', ...; empty = the end date the "
                       "database's documentation gives ('covers ... to YYYY-MM-DD'), else the latest date in the data. "
                       "Env: HEARTH_SQL_TODAY."})
    sources: str = field(default_factory=env("HEARTH_SQL_SOURCES", "model+examples"), metadata={
        "description": "Who may answer: 'model+examples' (the model's SQL and adapted stored examples), 'model' "
                       "(the model's SQL only) or 'examples' (adapted stored examples only, no model call). "
                       "Env: HEARTH_SQL_SOURCES."})
    check_coverage: bool = field(default_factory=env_flag("HEARTH_SQL_CHECK_COVERAGE", True), metadata={
        "description": "Say so, and run nothing, when the question names a value or a thing to count that the "
                       "database does not hold. Env: HEARTH_SQL_CHECK_COVERAGE."})
    example_store: Any = field(default=None, metadata={
        "description": "An ExampleStore object to use instead of the `examples` file (benchmarks, tests)."})

    def __post_init__(self):
        if self.sources not in SOURCES:
            raise ValueError(f"sources must be one of {SOURCES}, not {self.sources!r} (HEARTH_SQL_SOURCES).")
