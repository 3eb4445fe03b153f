"""User Lambda: /api/user, /api/sync behind the JWT authorizer (see ridelines.api.user_app)."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from ridelines.api.observability import make_lambda_handler


def _build_app() -> APIGatewayHttpResolver:
    from ridelines.api.user_app import UserDeps, create_app

    return create_app(UserDeps.from_environment())


lambda_handler = make_lambda_handler(_build_app)
