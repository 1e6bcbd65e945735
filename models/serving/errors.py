"""Errors in OpenAI's shape, and the mapping from model exceptions and validation errors to them."""

from __future__ import annotations

import json
import logging

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

logger = logging.getLogger("apps.serve")

class APIError(Exception):
    """An error answered in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def model_error(exc: BaseException) -> APIError:
    """An exception raised while loading or running a model, as the error a client should see."""
    if isinstance(exc, APIError):
        return exc
    from models.llamacpp import ContextWindowError
    from models.spec import ModelSpecError

    if isinstance(exc, ContextWindowError):
        return APIError(400, str(exc), param="messages", code="context_length_exceeded")
    if isinstance(exc, ModelSpecError):
        return APIError(503, f"The model cannot be loaded: {exc}", type="server_error", code="model_not_available")
    if isinstance(exc, json.JSONDecodeError):
        return APIError(500, f"The model's constrained reply was not complete JSON ({exc}); it was probably cut off "
                             "by max_tokens. Raise max_tokens (or max_completion_tokens).",
                        type="server_error", code="incomplete_output")
    logger.exception("model call failed", exc_info=exc)
    return APIError(500, f"The model failed: {type(exc).__name__}: {exc}", type="server_error")


def validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "Invalid request.", None
    parts, params = [], []
    for err in errors[:5]:
        loc = [str(x) for x in err.get("loc", ()) if x != "body"]
        param = ".".join(loc) or None
        if err.get("type") == "json_invalid":
            detail = (err.get("ctx") or {}).get("error", "")
            parts.append(f"The request body is not valid JSON ({detail}).".replace(" ().", "."))
            param = None
        elif err.get("type") == "missing" and not loc:
            parts.append("The request needs a JSON body.")
        else:
            parts.append(f"{param}: {err.get('msg')}" if param else str(err.get("msg")))
        params.append(param)
    return " ".join(parts) if len(parts) == 1 else "; ".join(parts), params[0]
