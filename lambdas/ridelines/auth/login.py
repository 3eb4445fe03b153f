"""The login flow: begin (state + consent URL) and complete (state, code -> user row, JWT, redirect)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.auth.redirects import frontend_redirect, validate_redirect_path
from ridelines.auth.state import consume_state, issue_state
from ridelines.auth.tokens import JwtIssuer
from ridelines.errors import InvalidInput
from ridelines.ports import OAuthCredentialsProvider, OAuthStateRepository, TokenCipher, UserRepository

ACCESS_DENIED = "access_denied"
LOGIN_FAILED = "login_failed"


@dataclass(frozen=True)
class LoginResult:
    athlete_id: str
    redirect_url: str  # carries the JWT in its fragment: never log it


@dataclass(frozen=True)
class LoginFlow:
    states: OAuthStateRepository
    users: UserRepository
    cipher: TokenCipher
    credentials: OAuthCredentialsProvider
    intervals: IntervalsOAuthClient
    jwt_issuer: JwtIssuer
    frontend_url: str
    callback_url: str  # {API_URL}/auth/callback, registered at intervals.icu

    def begin(self, redirect_path: str | None, now: datetime) -> str:
        """Validate where to return, remember it under a fresh state, and return the consent URL."""
        path = validate_redirect_path(redirect_path)
        state = issue_state(self.states, path, now)
        return self.intervals.authorize_url(self.credentials.get().client_id, self.callback_url, state)

    def complete(self, code: str | None, state: str | None, now: datetime) -> LoginResult:
        if not code:
            raise InvalidInput("the callback carries no authorization code", code="invalid_code")
        redirect_path = consume_state(self.states, state, now)
        grant = self.intervals.exchange_code(code, self.credentials.get())
        athlete = grant.athlete or self.intervals.get_self(grant.access_token)
        encrypted = self.cipher.encrypt(grant.access_token, athlete.id)
        user = self.users.upsert_login(athlete.id, athlete.name, encrypted, now)
        token = self.jwt_issuer.issue(user.athlete_id, user.name, now)
        return LoginResult(
            athlete_id=user.athlete_id,
            redirect_url=frontend_redirect(self.frontend_url, redirect_path, f"token={token}"),
        )

    def refused(self, error: str, state: str | None, now: datetime) -> str:
        """intervals.icu sent the rider back without a code: use up the state, send them home."""
        if state:
            with contextlib.suppress(InvalidInput):  # nothing to clean up; the answer is the same
                consume_state(self.states, state, now)
        reason = ACCESS_DENIED if error == ACCESS_DENIED else LOGIN_FAILED
        return frontend_redirect(self.frontend_url, "/", f"error={reason}")
