"""The in-flight record between reading and normalisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class RawRecord:
    """One input record as read, before normalisation.

    ``payload`` is ``bytes`` for one-record files (text, HTML) and a ``dict`` of
    fields for record formats (JSONL, CSV rows, feed entries).  ``raw`` keeps the
    record's original bytes for the dead-letter dataset; ``context`` carries
    container information (feed title and link, a declared charset).
    """

    input_uri: str
    input_format: str
    payload: Any
    position: Optional[int] = None
    raw: Optional[bytes] = None
    context: Optional[dict] = None


# A kept article or duplicate row of streaming dedup carries its IndexRecord under this transient
# key, so the streaming sink publishes the row and its index entry in one commit.
INDEX_ROW = "_index_row"
