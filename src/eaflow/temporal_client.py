"""One way to reach Temporal: the pydantic data converter, and every payload encrypted
(eaflow/payload_codec.py) with the key the API and the workers share.

Failures' messages are encrypted too (R22): an error's message can name a person (an SMTP server's
"550 <address> mailbox full", a database error with its parameters), and the Temporal server keeps
it in the history of every retried activity. The server and its UI see "Encoded failure", the
error's type and the innermost frames of its stack trace (code, not data); the API and the workers
read the message as usual."""
from __future__ import annotations

import dataclasses

from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverter, PayloadConverter

from eaflow.payload_codec import EncryptionCodec, derive_key
from eaflow.settings import Settings
from eaflow.signing import reading_keys


# The server keeps a failure of at most ~4 KB: a bigger one loses its details, the encrypted message
# with them. The stack trace is cut to its innermost frames to leave the message room.
STACK_TRACE_KEPT = 600


class MessageEncryptingFailureConverter(DefaultFailureConverter):
    """The default failure converter, each failure's message (and its causes') moved into the
    encoded attributes that the payload codec encrypts; a short plain stack trace stays."""

    def to_failure(self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure) -> None:
        super().to_failure(exception, payload_converter, failure)  # the causes come back through here
        failure.encoded_attributes.CopyFrom(payload_converter.to_payloads([{"message": failure.message}])[0])
        failure.message = "Encoded failure"
        failure.stack_trace = failure.stack_trace[-STACK_TRACE_KEPT:]


def data_converter(settings: Settings) -> DataConverter:
    current, *previous = (derive_key(key) for key in reading_keys(settings))
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(current, previous),
                               failure_converter_class=MessageEncryptingFailureConverter)


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, data_converter=data_converter(settings)
    )
