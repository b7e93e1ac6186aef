"""Encryption at rest for secrets people give us (CalDAV app passwords).

Keys come from ``ONEHAND_FIELD_KEY``: a comma-separated list whose first key encrypts and
all of which decrypt (append the old key, put the new one first, re-save to rotate). Each
item is a Fernet key (44 url-safe base64 characters) or any passphrase, which is stretched
with HKDF-SHA256. Without it the key is derived from ``SECRET_KEY``, so rotating SECRET_KEY
without setting ONEHAND_FIELD_KEY to the old one makes stored passwords unreadable (people
then reconnect their calendar).
"""

import base64
import binascii
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

__all__ = ["DecryptionError", "decrypt", "encrypt"]


class DecryptionError(Exception):
    """The stored secret cannot be read with the configured keys."""


def _derive(material: str) -> bytes:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"onehand.field-key", info=b"fernet"
    ).derive(material.encode())
    return base64.urlsafe_b64encode(key)


def _as_fernet_key(item: str) -> bytes:
    try:
        if len(base64.urlsafe_b64decode(item.encode())) == 32 and len(item) == 44:
            return item.encode()
    except (binascii.Error, ValueError):
        pass
    return _derive(item)


@lru_cache(maxsize=8)
def _fernet(field_key: str, secret_key: str) -> MultiFernet:
    items = [item.strip() for item in field_key.split(",") if item.strip()]
    keys = [_as_fernet_key(item) for item in items] or [_derive(secret_key)]
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(settings.ONEHAND_FIELD_KEY, settings.SECRET_KEY)


def encrypt(plain: str) -> str:
    return _current().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise DecryptionError(
            "stored secret cannot be decrypted with the configured keys"
        ) from None
