"""Signing in a browser with an API key; the browser keeps a signed session token, never the key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from moorage.errors import Unauthorized
from moorage.models import ApiKey, Team, WebSession
from moorage.models.base import utcnow
from moorage.security import SecretBox
from moorage.websessions.repository import web_session_repository

COOKIE = "moorage_session"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class SignedIn:
    team: Team
    key: ApiKey
    csrf_token: str
    token_hash: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WebSessionService:
    def __init__(self, secrets_box: SecretBox) -> None:
        self._signer = URLSafeTimedSerializer(
            secrets_box.signing_key("web-session"), salt="moorage-web-session"
        )

    def sign_in(self, session: Session, key: ApiKey) -> str:
        """A new session for an authenticated key; returns the cookie value."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        web_session_repository.remove_expired(session, now=now)
        web_session_repository.add(
            session,
            WebSession(
                token_hash=_hash(token),
                api_key_id=key.id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + LIFETIME,
            ),
        )
        return self._signer.dumps(token)

    def resolve(self, session: Session, cookie: str | None) -> SignedIn | None:
        """The live session a cookie names, or None (unsigned, expired, signed out, revoked)."""
        if not cookie:
            return None
        try:
            token = self._signer.loads(cookie, max_age=int(LIFETIME.total_seconds()))
        except BadSignature:
            return None
        if not isinstance(token, str):
            return None
        found = web_session_repository.live(session, _hash(token), now=utcnow())
        if found is None:
            return None
        row, team, key = found
        return SignedIn(team=team, key=key, csrf_token=row.csrf_token, token_hash=row.token_hash)

    def require(self, session: Session, cookie: str | None) -> SignedIn:
        signed_in = self.resolve(session, cookie)
        if signed_in is None:
            raise Unauthorized("Sign in first.")
        return signed_in

    @staticmethod
    def csrf_ok(signed_in: SignedIn, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(signed_in.csrf_token, token or "")

    def sign_out(self, session: Session, signed_in: SignedIn) -> None:
        web_session_repository.remove(session, signed_in.token_hash)
