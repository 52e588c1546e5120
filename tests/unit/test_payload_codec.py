"""R22: the payloads eaflow hands to Temporal are encrypted with the key the API and the workers share."""
from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter

from eaflow.payload_codec import ENCODING, EncryptionCodec, PayloadKeyError, derive_key
from eaflow.settings import Settings
from eaflow.temporal_client import data_converter
from eaflow.workflows.types import TaskCompletion

NOTE = "Souhaite travailler en boulangerie ; fatigue liée au traitement."


def completion() -> TaskCompletion:
    return TaskCompletion(task_id="t-1", outcome={"wishes": NOTE}, outcome_hash="h", actor_id="u-1")


async def test_r22_a_payload_leaves_encrypted_and_comes_back_whole(tmp_path):
    converter = data_converter(Settings(data_dir=tmp_path, secret_key="le secret partagé"))
    [stored] = await converter.encode([completion()])
    assert stored.metadata["encoding"] == ENCODING
    assert NOTE.encode() not in stored.data and b"wishes" not in stored.data
    [back] = await converter.decode([stored], [TaskCompletion])
    assert back == completion()
    [again] = await converter.encode([completion()])
    assert again.data != stored.data  # a fresh nonce each time


async def test_r22_the_embedded_stack_shares_the_key_generated_in_its_data_dir(tmp_path):
    api, worker = (data_converter(Settings(data_dir=tmp_path)) for _ in range(2))
    [stored] = await api.encode([completion()])
    assert (await worker.decode([stored], [TaskCompletion]))[0] == completion()


async def test_r22_another_key_or_a_tampered_payload_is_refused(tmp_path):
    codec = EncryptionCodec(derive_key(b"one"))
    [stored] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')])
    with pytest.raises(PayloadKeyError, match="EAFLOW_SECRET_KEY"):
        await EncryptionCodec(derive_key(b"two")).decode([stored])
    tampered = Payload()
    tampered.CopyFrom(stored)
    tampered.data = stored.data[:-1] + bytes([stored.data[-1] ^ 1])
    with pytest.raises(InvalidTag):
        await codec.decode([tampered])


async def test_payloads_written_before_the_codec_still_read(tmp_path):
    """Journeys started before encryption keep running: a plain payload passes through."""
    [plain] = await pydantic_data_converter.encode([completion()])
    converter = data_converter(Settings(data_dir=tmp_path))
    assert (await converter.decode([plain], [TaskCompletion]))[0] == completion()


async def test_r22_a_rotated_key_still_reads_what_the_previous_one_wrote(tmp_path):
    """Rotation: the new EAFLOW_SECRET_KEY encrypts, the keys it replaced still decrypt."""
    before = data_converter(Settings(data_dir=tmp_path, secret_key="ancienne clé"))
    after = data_converter(Settings(data_dir=tmp_path, secret_key="nouvelle clé",
                                    previous_secret_keys=("ancienne clé",)))
    [old] = await before.encode([completion()])
    [new] = await after.encode([completion()])
    assert old.metadata["encryption-key-id"] != new.metadata["encryption-key-id"]
    assert (await after.decode([old], [TaskCompletion]))[0] == completion()
    with pytest.raises(PayloadKeyError, match="EAFLOW_PREVIOUS_SECRET_KEYS"):
        await data_converter(Settings(data_dir=tmp_path, secret_key="nouvelle clé")).decode([old], [TaskCompletion])


async def test_r22_a_failure_leaves_with_its_messages_encrypted_and_comes_back_whole(tmp_path):
    """An activity's error can quote a person (an SMTP refusal names the address): Temporal keeps
    it for every retried attempt, so its message and its causes' are encrypted; the type and the
    innermost frames stay readable for the operators."""
    converter = data_converter(Settings(data_dir=tmp_path, secret_key="le secret partagé"))
    address = "ysaline.kerbrat@exemple-r22.fr"
    refusal, summary = f"550 <{address}>: mailbox full", f"mail to {address} not sent"
    try:
        try:
            raise ConnectionError(refusal)  # the stack trace quotes this line: code, not data
        except ConnectionError as cause:
            raise RuntimeError(summary) from cause
    except RuntimeError as error:
        failure = Failure()
        await converter.encode_failure(error, failure)
    stored = failure.SerializeToString()
    assert address.encode() not in stored and b"mailbox full" not in stored
    assert failure.message == failure.cause.message == "Encoded failure"
    assert failure.application_failure_info.type == "RuntimeError" and "raise RuntimeError" in failure.stack_trace
    back = await converter.decode_failure(failure)
    assert (back.type, back.message) == ("RuntimeError", summary)
    assert (back.__cause__.type, back.__cause__.message) == ("ConnectionError", refusal)
