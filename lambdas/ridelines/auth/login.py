"""The login flow: begin (state + browser binding + consent URL) and complete (state, code -> user row,
JWT, redirect). The JWT never appears in a URL: the HTTP edge puts it in the session cookie."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.auth.redirects import site_redirect, validate_redirect_path
from ridelines.auth.state import consume_state, issue_state
from ridelines.auth.tokens import JwtIssuer
from ridelines.errors import InvalidInput
from ridelines.ports import OAuthCredentialsProvider, OAuthStateRepository, TokenCipher, UserRepository

ACCESS_DENIED = "access_denied"
LOGIN_DENIED = "denied"
LOGIN_FAILED = "failed"


@dataclass(frozen=True)
class LoginStart:
    consent_url: str
    binding: str  # for the state cookie only


@dataclass(frozen=True)
class LoginResult:
    athlete_id: str
    token: str  # the session JWT: cookie only, never log it
    lifetime_seconds: int
    expires_at: int  # the JWT's exp (epoch seconds)
    redirect_url: str

    def __repr__(self) -> str:  # keep the token out of any accidental log line
        return f"LoginResult(athlete_id={self.athlete_id!r}, token=<redacted>, redirect_url={self.redirect_url!r})"


@dataclass(frozen=True)
class LoginFlow:
    states: OAuthStateRepository
    users: UserRepository
    cipher: TokenCipher
    credentials: OAuthCredentialsProvider
    intervals: IntervalsOAuthClient
    jwt_issuer: JwtIssuer
    site_url: str

    @property
    def callback_url(self) -> str:
        """``{SITE_URL}/auth/callback``, the redirect URI registered at intervals.icu."""
        return f"{self.site_url.rstrip('/')}/auth/callback"

    def begin(self, redirect_path: str | None, now: datetime) -> LoginStart:
        """Validate where to return, remember it under a fresh state, and return the consent URL."""
        path = validate_redirect_path(redirect_path)
        issued = issue_state(self.states, path, now)
        url = self.intervals.authorize_url(self.credentials.get().client_id, self.callback_url, issued.state)
        return LoginStart(consent_url=url, binding=issued.binding)

    def complete(
        self, code: str | None, state: str | None, binding: str | None, now: datetime
    ) -> LoginResult:
        if not code:
            raise InvalidInput("the callback carries no authorization code", code="invalid_code")
        redirect_path = consume_state(self.states, state, binding, now)
        grant = self.intervals.exchange_code(code, self.credentials.get())
        athlete = grant.athlete or self.intervals.get_self(grant.access_token)
        encrypted = self.cipher.encrypt(grant.access_token, athlete.id)
        user = self.users.upsert_login(athlete.id, athlete.name, encrypted, now)
        token = self.jwt_issuer.issue(user.athlete_id, user.name, now)
        lifetime = self.jwt_issuer.lifetime_seconds
        return LoginResult(
            athlete_id=user.athlete_id,
            token=token,
            lifetime_seconds=lifetime,
            expires_at=int(now.timestamp()) + lifetime,
            redirect_url=site_redirect(self.site_url, redirect_path),
        )

    def refused(self, error: str, state: str | None, binding: str | None, now: datetime) -> str:
        """intervals.icu sent the rider back without a code: use up the state, send them home."""
        if state:
            with contextlib.suppress(InvalidInput):  # nothing to clean up; the answer is the same
                consume_state(self.states, state, binding, now)
        outcome = LOGIN_DENIED if error == ACCESS_DENIED else LOGIN_FAILED
        return site_redirect(self.site_url, f"/?login={outcome}")
