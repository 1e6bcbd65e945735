"""Guardrails any graph can switch on: prompt-injection screening of requests and retrieved
documents, and PII redaction of answers (`agents.guardrails.nodes`), also packaged as
guardrails-ai validators (`agents.guardrails.validators`). Measured by `python -m evals.guardrails`."""

from agents.guardrails.injection import InjectionVerdict, check_injection, detect_injection
from agents.guardrails.nodes import (
    GuardrailsSettings,
    input_guard_node,
    output_guard_node,
    retrieved_guard_node,
    route_after_input_guard,
    with_guardrails,
)
from agents.guardrails.pii import redact_pii

__all__ = ["GuardrailsSettings", "InjectionVerdict", "check_injection", "detect_injection", "input_guard_node",
           "output_guard_node", "redact_pii", "retrieved_guard_node", "route_after_input_guard", "with_guardrails"]
