"""Powertools Logger / Metrics / Tracer shared by the API Lambdas, and the decorated handler factory."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from ridelines.errors import RidelinesError

# Service name and namespace come from POWERTOOLS_* variables when the stack sets them.
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "ridelines-api")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Ridelines")
tracer = Tracer()
# Discovery and JWKS requests publish no metric by design; that is not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def make_lambda_handler(build_app: Callable[[], APIGatewayHttpResolver]) -> LambdaHandler:
    """A Lambda entry point that builds its app on first call (importing needs no environment), logs
    JSON with the API Gateway request id as correlation id, traces, and flushes EMF metrics."""
    app: APIGatewayHttpResolver | None = None

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)  # responses carry JWTs and signed cookies
    @metrics.log_metrics(raise_on_empty_metrics=False)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal app
        if app is None:
            try:
                app = build_app()
            except Exception as exc:
                from ridelines.api.errors import error_payload

                if isinstance(exc, RidelinesError):
                    logger.error(
                        "the API could not be configured", extra={"error": exc.code, "reason": exc.message}
                    )
                else:
                    logger.exception("the API could not be configured")
                return error_payload(500, "configuration_error", "the service is not configured correctly")
        return app.resolve(event, context)

    return lambda_handler
