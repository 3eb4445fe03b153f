"""Auth Lambda: /auth/login, /auth/callback, /auth/.well-known/* (see ridelines.api.auth_app)."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from ridelines.api.observability import make_lambda_handler


def _build_app() -> APIGatewayHttpResolver:
    from ridelines.api.auth_app import AuthDeps, create_app

    return create_app(AuthDeps.from_environment())


lambda_handler = make_lambda_handler(_build_app)
