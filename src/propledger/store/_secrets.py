"""Encryption at rest of the shared secrets stored with installations.

Set ``PROPLEDGER_SECRET_KEY`` to one or more comma-separated Fernet keys. The first key
encrypts, and every key decrypts, so a key is rotated by putting the new key first,
running ``propledger secrets rotate``, and then dropping the old key.

Each stored value carries a prefix: ``fernet:`` before a Fernet token, ``plain:``
before a secret stored while no key was set. A value without a prefix was written by a
propledger version without encryption and is read as plain text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from propledger.errors import ConfigurationError, SecretKeyError

__all__ = ["SECRET_KEY_ENV_VAR", "SecretCodec", "generate_secret_key"]

SECRET_KEY_ENV_VAR = "PROPLEDGER_SECRET_KEY"  # noqa: S105 - a variable name, not a secret

_ENCRYPTED = "fernet:"
_PLAIN = "plain:"


def generate_secret_key() -> str:
    """Return a new random Fernet key, as ``PROPLEDGER_SECRET_KEY`` takes it."""
    return Fernet.generate_key().decode("ascii")


class SecretCodec:
    """Turns shared secrets into stored column values and back.

    Without keys, secrets are stored as plain text with the ``plain:`` prefix.
    """

    def __init__(self, keys: Sequence[str] = ()) -> None:
        fernets = [_fernet(key, position) for position, key in enumerate(keys, start=1)]
        self._fernet = MultiFernet(fernets) if fernets else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecretCodec:
        """Build the codec from the comma-separated keys in ``PROPLEDGER_SECRET_KEY``."""
        env = os.environ if environ is None else environ
        text = env.get(SECRET_KEY_ENV_VAR, "")

        return cls([part.strip() for part in text.split(",") if part.strip()])

    @property
    def encrypts(self) -> bool:
        """Whether new values are encrypted, that is whether any key is set."""
        return self._fernet is not None

    def encode(self, secret: str) -> str:
        """Return the column value for ``secret``: encrypted with the first key if any."""
        if self._fernet is None:
            return _PLAIN + secret

        return _ENCRYPTED + self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def decode(self, value: str) -> str:
        """Return the secret a column value holds.

        Raises ConfigurationError when the value is encrypted and no configured key
        decrypts it. The message never contains the value.
        """
        if value.startswith(_PLAIN):
            return value[len(_PLAIN) :]
        if not value.startswith(_ENCRYPTED):
            # NOTE: written before encryption existed. A legacy plain-text secret that
            # itself began with one of the prefixes would be misread; Jira's shared
            # secrets are base64 text and contain no colon.
            return value
        if self._fernet is None:
            raise SecretKeyError(
                "A stored shared secret is encrypted, but no secret key was given. Set "
                "PROPLEDGER_SECRET_KEY (or Settings.secret_keys) to the Fernet keys the "
                "store was encrypted with."
            )
        try:
            plain = self._fernet.decrypt(value[len(_ENCRYPTED) :].encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise SecretKeyError(
                "A stored shared secret cannot be decrypted with any key in "
                "PROPLEDGER_SECRET_KEY. Add the key it was encrypted with, and restart every "
                "server and worker with the same keys."
            ) from None

        return plain.decode("utf-8")

    def rotate(self, value: str) -> str:
        """Return ``value`` encrypted with the first key, whatever key or none it had.

        Raises ConfigurationError when no key is set.
        """
        if self._fernet is None:
            raise ConfigurationError(
                "No key to rotate to: PROPLEDGER_SECRET_KEY is not set. Set it to one or "
                "more comma-separated Fernet keys, the new key first."
            )

        return self.encode(self.decode(value))


def _fernet(key: str, position: int) -> Fernet:
    try:
        return Fernet(key)
    except ValueError:
        # The key itself stays out of the message.
        raise ConfigurationError(
            f"Key number {position} in PROPLEDGER_SECRET_KEY is not a Fernet key "
            "(32 bytes in URL-safe base64). Generate one with `propledger secrets generate-key`."
        ) from None
