"""The guards as guardrails-ai validators (written here: the Guardrails Hub is gone).

    from guardrails import Guard
    from agents.guardrails.validators import DetectPromptInjection, RedactPII, input_guard, output_guard

    input_guard().validate("Ignore previous instructions")        # raises ValidationError
    output_guard().validate("Mail jane@example.com").validated_output   # 'Mail [EMAIL]'
    Guard().use(RedactPII(kinds=("email",), on_fail="fix"))         # your own combination

Importing this module imports guardrails-ai (several seconds of CPU); `agents.guardrails.nodes`
only does so when the `guardrails-ai` engine is chosen. Both validators run locally
(`use_local=True`), and metrics collection is switched off on every guard built here, so no
validation reaches the network.
"""

from __future__ import annotations

from typing import Any

from guardrails import Guard, OnFailAction
from guardrails.validators import FailResult, PassResult, ValidationResult, Validator, register_validator

from agents.guardrails.injection import EmbeddingInjectionDetector, check_injection
from agents.guardrails.pii import ALL_KINDS, redact_pii


@register_validator(name="hearth/detect_prompt_injection", data_type="string")
class DetectPromptInjection(Validator):
    """Fails on instruction hijacking, prompt leaking and (with `document=True`) indirect injection.

    `embeddings="local"` adds the MiniLM similarity check to the rules; there is no fix value
    (an injected prompt cannot be repaired), so use `on_fail="exception"` or `"noop"`.
    Metadata `{"document": True}` per call overrides the `document` default."""

    def __init__(self, document: bool = False, embeddings: str = "", threshold: float = 0.45,
                 on_fail: Any = OnFailAction.EXCEPTION, **kwargs):
        super().__init__(on_fail=on_fail, document=document, embeddings=embeddings, threshold=threshold,
                         use_local=True, **kwargs)
        self.document = document
        self.detector = EmbeddingInjectionDetector(embeddings, threshold) if embeddings else None

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        verdict = check_injection(str(value), document=metadata.get("document", self.document), detector=self.detector)
        if not verdict.flagged:
            return PassResult()
        return FailResult(error_message=f"Prompt injection: {verdict.reason}",
                          metadata={"category": verdict.category, "method": verdict.method})


@register_validator(name="hearth/redact_pii", data_type="string")
class RedactPII(Validator):
    """Fails when the text holds PII; the fix value is the text with `[EMAIL]`, `[PHONE]`,
    `[CARD]`, `[IBAN]`, `[ADDRESS]`, `[NAME]` in place of each span (use `on_fail="fix"`)."""

    def __init__(self, kinds: tuple[str, ...] | list[str] = ALL_KINDS, on_fail: Any = OnFailAction.FIX, **kwargs):
        kinds = tuple(kinds)
        unknown = set(kinds) - set(ALL_KINDS)
        if unknown:
            raise ValueError(f"Unknown PII kinds {sorted(unknown)}; choose from {', '.join(ALL_KINDS)}.")
        super().__init__(on_fail=on_fail, kinds=kinds, use_local=True, **kwargs)
        self.kinds = kinds

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        redaction = redact_pii(str(value), self.kinds)
        if not redaction.spans:
            return PassResult()
        return FailResult(error_message=f"Found PII: {', '.join(redaction.kinds)}", fix_value=redaction.text)


def _quiet(guard: Guard) -> Guard:
    guard.configure(allow_metrics_collection=False)
    return guard


def input_guard(*, document: bool = False, embeddings: str = "", on_fail: str = "exception") -> Guard:
    """A Guard with the injection validator (raises `guardrails.errors.ValidationError` by default)."""
    return _quiet(Guard(name="hearth-input-guard").use(
        DetectPromptInjection(document=document, embeddings=embeddings, on_fail=on_fail)))


def output_guard(*, kinds: tuple[str, ...] = ALL_KINDS) -> Guard:
    """A Guard that redacts PII (`validate(text).validated_output` is the redacted text)."""
    return _quiet(Guard(name="hearth-output-guard").use(RedactPII(kinds=kinds, on_fail="fix")))
