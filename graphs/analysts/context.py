"""Run-time settings of the analyst team; defaults come from environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.settings import BaseContext, env, env_flag


@dataclass(kw_only=True)
class Context(BaseContext):
    """The model chooses the next analyst and writes the analysts' notes."""

    default_tickers: str = field(default_factory=env("HEARTH_TICKERS", "ACME,BRGT,CLDX,DYNA,ECOV"), metadata={
        "description": "Tickers covered when the request names none (comma-separated). Env: HEARTH_TICKERS."})
    default_day: str = field(default_factory=env("HEARTH_REPORT_DAY", "2026-11-27"), metadata={
        "description": "Report day when the request names none (YYYY-MM-DD). Env: HEARTH_REPORT_DAY."})
    lookback_days: int = field(default_factory=env("HEARTH_LOOKBACK_DAYS", 30, int), metadata={
        "description": "Trading days of prices the price analyst looks at. Env: HEARTH_LOOKBACK_DAYS."})
    out_dir: str = field(default_factory=env("HEARTH_REPORT_DIR", "out/analysts"), metadata={
        "description": "Where the manager writes the report and its price chart. Env: HEARTH_REPORT_DIR."})
    model_routing: bool = field(default_factory=env_flag("HEARTH_MODEL_ROUTING", True), metadata={
        "description": "Let the model choose the next analyst (checked against what each needs). Env: HEARTH_MODEL_ROUTING."})
    model_notes: bool = field(default_factory=env_flag("HEARTH_MODEL_NOTES", True), metadata={
        "description": "Let the model add a one-sentence note per ticker to the report. Env: HEARTH_MODEL_NOTES."})
