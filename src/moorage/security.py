"""API keys (stored hashed) and encryption of stored storage secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import string
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["SecretBox", "generate_api_key", "hash_api_key", "split_api_key"]

_ALPHABET = string.ascii_letters + string.digits


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def generate_api_key() -> str:
    """A key in Darwin's format: 7 characters, a dot, 32 characters."""
    return f"{_random(7)}.{_random(32)}"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_api_key(key: str) -> str | None:
    """The 7-character prefix of a well-formed key, or ``None``."""
    prefix, dot, rest = key.partition(".")
    if not dot or len(prefix) != 7 or len(rest) != 32:
        return None
    return prefix


def keys_match(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), stored_hash)


class SecretBox:
    """Encrypts storage secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256).

    The key comes from ``MOORAGE_SECRET_KEY`` (any string; it is stretched with SHA-256) or,
    on the embedded default, from a key file created in the data dir with mode 0600.
    """

    def __init__(self, secret: str) -> None:
        digest = hashlib.sha256(secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._root = digest

    def signing_key(self, purpose: str) -> bytes:
        """A key for signing (not encrypting) one kind of value, derived from the secret."""
        return hmac.new(self._root, b"moorage-sign:" + purpose.encode(), hashlib.sha256).digest()

    @classmethod
    def from_settings(cls, secret_key: str | None, data_dir: Path) -> SecretBox:
        if secret_key:
            return cls(secret_key)
        path = data_dir / "secret.key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        return cls(path.read_text().strip())

    def encrypt(self, values: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(values).encode())

    def decrypt(self, token: bytes) -> dict[str, str]:
        try:
            data = json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise ValueError(
                "Stored storage credentials cannot be decrypted: MOORAGE_SECRET_KEY changed."
            ) from None
        return {str(k): str(v) for k, v in data.items()}
