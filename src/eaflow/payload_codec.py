"""Every payload eaflow hands to Temporal is encrypted (R22: health and disability data).

Task outcomes, signatories and journey snapshots travel as workflow inputs, update arguments and
activity results; Temporal stores them in its database and shows them in its UI, which has no
login. The codec encrypts each payload with AES-256-GCM before it leaves the process and decrypts it
on the way back, so that only the processes holding the key (the API, the workers, the `eaflow`
commands) read them. The key is derived from EAFLOW_SECRET_KEY (or DATA_DIR/secret_key on the
embedded stack), the secret the API and every worker already share; the key id travels with each
payload, so that a payload encrypted with another key is refused by name rather than misread, and
the keys EAFLOW_SECRET_KEY replaced (EAFLOW_PREVIOUS_SECRET_KEYS) still read what they wrote.

Payloads written before the codec existed (or by a client without it) are plain: they pass through
as they are, so journeys started before it keep running.
"""
from __future__ import annotations

import hashlib
import os
from typing import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


def derive_key(secret: bytes) -> bytes:
    """The payload key, derived from the shared secret for this one purpose."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"eaflow/temporal-payloads").derive(secret)


class PayloadKeyError(ValueError):
    """A payload encrypted with a key this process does not hold."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    """Encrypts with `key`; decrypts what `key` or one of `previous` (keys it replaced) encrypted."""

    def __init__(self, key: bytes, previous: Sequence[bytes] = ()) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id(key)
        self._readers = {key_id(k): AESGCM(k) for k in previous} | {self.key_id: self._aead}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) if p.metadata.get("encoding") == ENCODING else p for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, payload.SerializeToString(), self.key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: self.key_id.encode()}, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        written_with = payload.metadata.get(KEY_ID, b"").decode()
        reader = self._readers.get(written_with)
        if reader is None:
            raise PayloadKeyError(f"payload encrypted with key {written_with or '?'}, unknown to this process (its "
                                  f"key: {self.key_id}): the API and every worker must share EAFLOW_SECRET_KEY, and "
                                  "list the keys it replaced in EAFLOW_PREVIOUS_SECRET_KEYS")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        return Payload.FromString(reader.decrypt(nonce, sealed, written_with.encode()))
