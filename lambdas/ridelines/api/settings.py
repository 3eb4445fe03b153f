"""Reading the API Lambdas' environment (names from :mod:`ridelines.settings`)."""

from __future__ import annotations

from datetime import UTC, datetime

from ridelines import settings
from ridelines.errors import ConfigurationError


def utc_now() -> datetime:
    return datetime.now(UTC)


def required(name: str) -> str:
    value = settings.env(name)
    if value is None:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def url(name: str) -> str:
    value = required(name).rstrip("/")
    if not value.startswith(("https://", "http://")):
        raise ConfigurationError(f"environment variable {name} is not an http(s) URL")
    return value


def positive_int(name: str, default: int) -> int:
    raw = settings.env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} is not an integer") from None
    if value <= 0:
        raise ConfigurationError(f"environment variable {name} must be positive")
    return value
