"""The intervals.icu OAuth client id/secret, from Secrets Manager through Powertools Parameters (cached)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from pydantic import ValidationError

from ridelines.errors import ConfigurationError
from ridelines.models import OAuthCredentials

DEFAULT_MAX_AGE_SECONDS = 300  # a rotated secret is picked up within five minutes


class SecretsManagerOAuthCredentials:
    def __init__(
        self, secret_arn: str, *, max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS, client: Any = None
    ) -> None:
        self._secret_arn = secret_arn
        self._max_age = max_age_seconds
        # One provider per adapter: its cache lives as long as the container's app.
        self._provider = SecretsProvider(boto3_client=client) if client is not None else SecretsProvider()

    def get(self) -> OAuthCredentials:
        value = self._provider.get(self._secret_arn, transform="json", max_age=self._max_age)
        try:
            return OAuthCredentials.model_validate(value)
        except ValidationError:
            # Never echo the secret's content.
            raise ConfigurationError(
                "the OAuth credentials secret is not {client_id, client_secret}"
            ) from None
