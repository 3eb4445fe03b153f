"""The one place where errors become HTTP responses: ``{"error": code, "message": text}``.

Domain errors carry their own code and a message written for users (no secrets, no tokens); anything
unexpected becomes a bare 500 whose details stay in the logs.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from pydantic import ValidationError

from ridelines.api.observability import logger
from ridelines.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RidelinesError,
    SyncInProgress,
    Unauthorized,
    UnprocessableInput,
    UpstreamError,
)

# Most specific first: the first class the error is an instance of decides the status.
STATUS_BY_ERROR: tuple[tuple[type[RidelinesError], int], ...] = (
    (SyncInProgress, 409),
    (UnprocessableInput, 422),
    (InvalidInput, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (UpstreamError, 502),
    (ConfigurationError, 500),
)
NO_STORE = {"Cache-Control": "no-store"}


def status_for(exc: RidelinesError) -> int:
    for error_class, status in STATUS_BY_ERROR:
        if isinstance(exc, error_class):
            return status
    return 500


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(code, message, **extra),
        headers=dict(NO_STORE),
    )


def error_payload(status: int, code: str, message: str) -> dict[str, Any]:
    """A raw HTTP API (payload 2.0) response, for failures before any resolver exists."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON, **NO_STORE},
        "body": json.dumps(error_body(code, message)),
        "isBase64Encoded": False,
    }


def response_for(exc: RidelinesError) -> Response:
    status = status_for(exc)
    extra: dict[str, Any] = {"sync_id": exc.sync_id} if isinstance(exc, SyncInProgress) else {}
    if isinstance(exc, UnprocessableInput):
        extra["field"] = exc.field
    if status >= 500:
        logger.error("request failed", extra={"error": exc.code, "reason": exc.message, "status": status})
    else:
        logger.info("request rejected", extra={"error": exc.code, "reason": exc.message, "status": status})
    message = exc.message if status < 500 or isinstance(exc, UpstreamError) else "internal error"
    return error_response(status, exc.code, message, **extra)


def validation_message(exc: ValidationError) -> str:
    # Field locations and error kinds only: pydantic's own text can echo the (possibly secret) input.
    parts = [f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['type']}" for err in exc.errors()[:5]]
    return "invalid request: " + "; ".join(parts)


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(RidelinesError)
    def _domain_error(exc: RidelinesError) -> Response:
        return response_for(exc)

    @app.exception_handler(ValidationError)
    def _validation_error(exc: ValidationError) -> Response:
        logger.info("request rejected", extra={"error": "invalid_input", "status": 400})
        return error_response(400, "invalid_input", validation_message(exc))

    @app.not_found
    def _no_route(_: NotFoundError) -> Response:
        return error_response(404, "not_found", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The traceback goes to the logs (JSON, correlation id); the caller learns nothing internal.
        logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
        return error_response(500, "internal_error", "internal error")
