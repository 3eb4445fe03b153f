"""The three intervals.icu calls login and account deletion need: token exchange, self athlete,
disconnect-app. (Activity listing and downloads live in ``ridelines.intervals``.)

Tokens and the client secret travel only in form bodies and headers, never in URLs, messages or logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from ridelines.errors import UpstreamAuthError, UpstreamError
from ridelines.models import OAuthCredentials
from ridelines.settings import OAUTH_SCOPE

# (connect, read) seconds: a login must not hang the Lambda until its own timeout.
DEFAULT_TIMEOUT = (3.05, 10.0)
_ATHLETE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class Athlete:
    id: str
    name: str


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    athlete: Athlete | None  # the token response usually names the athlete; else ask /athlete/0

    def __repr__(self) -> str:  # keep the token out of any accidental log line
        return f"TokenGrant(access_token=<redacted>, athlete={self.athlete!r})"


class IntervalsOAuthClient:
    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session or requests.Session()
        self._timeout = timeout

    def authorize_url(self, client_id: str, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {"client_id": client_id, "redirect_uri": redirect_uri, "scope": OAUTH_SCOPE, "state": state}
        )
        return f"{self.base_url}/oauth/authorize?{query}"

    def exchange_code(self, code: str, credentials: OAuthCredentials) -> TokenGrant:
        body = self._json(
            self._request(
                "POST",
                "/api/oauth/token",
                data={
                    "client_id": credentials.client_id,
                    "client_secret": credentials.client_secret,
                    "code": code,
                },
                what="token exchange",
            ),
            "token exchange",
        )
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise UpstreamError("intervals.icu token exchange returned no access token")
        athlete = body.get("athlete")
        return TokenGrant(
            access_token=token, athlete=_parse_athlete(athlete) if isinstance(athlete, dict) else None
        )

    def get_self(self, access_token: str) -> Athlete:
        response = self._request("GET", "/api/v1/athlete/0", headers=_bearer(access_token), what="athlete")
        return _parse_athlete(self._json(response, "athlete"))

    def disconnect_app(self, access_token: str) -> bool:
        """Revoke the app's access. False when intervals.icu says the token is already invalid."""
        try:
            self._request(
                "DELETE", "/api/v1/disconnect-app", headers=_bearer(access_token), what="disconnect-app"
            )
        except UpstreamAuthError as exc:
            if exc.status == 401:
                return False
            raise
        return True

    def _request(self, method: str, path: str, *, what: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._session.request(
                method, f"{self.base_url}{path}", timeout=self._timeout, allow_redirects=False, **kwargs
            )
        except requests.RequestException as exc:
            # The exception text may echo request details; name only the call.
            raise UpstreamError(
                f"intervals.icu {what} failed: {type(exc).__name__}", transient=True
            ) from None
        status = response.status_code
        if status in (401, 403):
            raise UpstreamAuthError(f"intervals.icu rejected the {what} ({status})", status=status)
        if status == 429 or status >= 500:
            raise UpstreamError(
                f"intervals.icu {what} is unavailable ({status})", status=status, transient=True
            )
        if not 200 <= status < 300:
            raise UpstreamError(f"intervals.icu {what} failed ({status})", status=status)
        return response

    @staticmethod
    def _json(response: requests.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise UpstreamError(f"intervals.icu {what} answered something that is not JSON") from None
        if not isinstance(body, dict):
            raise UpstreamError(f"intervals.icu {what} answered an unexpected JSON shape")
        return body


def _bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def _parse_athlete(raw: dict[str, Any]) -> Athlete:
    athlete_id = raw.get("id")
    if isinstance(athlete_id, int) and not isinstance(athlete_id, bool):
        athlete_id = str(athlete_id)
    if not isinstance(athlete_id, str) or not _ATHLETE_ID.match(athlete_id):
        raise UpstreamError("intervals.icu returned an athlete without a usable id")
    name = raw.get("name")
    name = name.strip()[:_MAX_NAME_LENGTH] if isinstance(name, str) and name.strip() else athlete_id
    return Athlete(id=athlete_id, name=name)
