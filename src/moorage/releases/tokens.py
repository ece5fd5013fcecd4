"""A release's capability token: what lets darwin-py (which sends no API key for the zip, nor
for URLs carrying ``token``) download the zip and the files of that release's items only.

``token = base64url(HMAC-SHA256(K, "<release id>:<salt>"))[:43]`` with ``K`` derived from the
server's secret for this one purpose and a random per-release ``salt`` stored on the row.
Nothing stored is secret: the database alone cannot mint a token. Deleting the release (or
changing its salt) revokes every URL at once, since each use looks the release up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

from moorage.security import SecretBox

__all__ = ["new_salt", "release_token", "token_matches"]

_PURPOSE = "release-token"


def new_salt() -> str:
    return secrets.token_hex(16)


def release_token(box: SecretBox, release_id: uuid.UUID, salt: str) -> str:
    mac = hmac.new(box.signing_key(_PURPOSE), f"{release_id}:{salt}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def token_matches(box: SecretBox, release_id: uuid.UUID, salt: str, token: str) -> bool:
    return hmac.compare_digest(release_token(box, release_id, salt), token)
