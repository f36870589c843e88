"""Dead letters: the exception fallible steps raise and the rejected-row builder."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from schemas.models import SCHEMA_VERSION

DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024


class RejectError(Exception):
    """Raised by a plain function when an input cannot become an article.

    ``reason`` is a short stable code (``empty_file``, ``malformed_json``…);
    ``message`` explains it to a human.
    """

    def __init__(self, stage: str, reason: str, message: str):
        super().__init__(f"{stage}/{reason}: {message}")
        self.stage = stage
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Rejection:
    """What a fallible step emits on its dead-letter output."""

    input_uri: str
    stage: str
    reason: str
    message: str
    payload: Optional[bytes] = None
    position: Optional[int] = None
    input_format: Optional[str] = None
    payload_size: Optional[int] = None


def payload_bytes(payload: Any) -> Optional[bytes]:
    if payload is None:
        return None
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8", "replace")
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")


def rejected_row(rej: Rejection, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES, now: Optional[datetime] = None) -> dict:
    """A ``RejectedRecord``-shaped dict; the payload is capped at ``max_payload_bytes``."""
    payload = rej.payload
    size = rej.payload_size if rej.payload_size is not None else (len(payload) if payload is not None else None)
    truncated = payload is not None and len(payload) > max_payload_bytes
    if truncated:
        payload = payload[:max_payload_bytes]
    key = f"{rej.input_uri}\x1f{rej.position}\x1f{rej.stage}\x1f{rej.reason}".encode("utf-8", "replace")
    return {
        "schema_version": SCHEMA_VERSION,
        "rejected_id": hashlib.blake2b(key, digest_size=8).hexdigest(),
        "input_uri": rej.input_uri,
        "input_format": rej.input_format,
        "position": rej.position,
        "stage": rej.stage,
        "reason": rej.reason,
        "message": rej.message[:2000],
        "payload": payload,
        "payload_size": size,
        "payload_truncated": bool(truncated or (size is not None and payload is not None and size > len(payload))),
        "rejected_at": now or datetime.now(timezone.utc),
    }
