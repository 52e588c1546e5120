"""One way to reach Temporal: the pydantic data converter, and every payload encrypted
(eaflow/payload_codec.py) with the key the API and the workers share."""
from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from eaflow.payload_codec import EncryptionCodec, derive_key
from eaflow.settings import Settings
from eaflow.signing import reading_keys


def data_converter(settings: Settings) -> DataConverter:
    current, *previous = (derive_key(key) for key in reading_keys(settings))
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(current, previous))


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, data_converter=data_converter(settings)
    )
