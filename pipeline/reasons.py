"""Every rejection code (``stage/reason``) the pipeline can emit, with its meaning: the one list.

Code raises rejections with these constants (``Rejection(uri, *reasons.READ_TOO_LARGE, message)``,
``RejectError(*reasons.NORMALIZE_NO_TEXT, message)``), never with string literals; the rejected
schema's documentation (``schemas/models.py``) is generated from :data:`MEANINGS`, and
``tests/test_hostile_inputs.py`` checks that the README's table lists every code.  Codes are
stable: users query them, so a code is added, never renamed.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Mapping, NamedTuple


class Reason(NamedTuple):
    """A stage and a reason; unpacks into the ``stage, reason`` arguments of a rejection."""

    stage: str
    reason: str

    @property
    def code(self) -> str:
        return f"{self.stage}/{self.reason}"


# Stages, in pipeline order.
MATCH = "match"
READ = "read"
DECODE = "decode"
PARSE = "parse"
NORMALIZE = "normalize"
FETCH = "fetch"
STAGES = (MATCH, READ, DECODE, PARSE, NORMALIZE, FETCH)

MATCH_NO_FILES_MATCHED = Reason(MATCH, "no_files_matched")
MATCH_BAD_FEED_LIST = Reason(MATCH, "bad_feed_list")
MATCH_NO_FEEDS = Reason(MATCH, "no_feeds")

READ_EMPTY_FILE = Reason(READ, "empty_file")
READ_UNKNOWN_FORMAT = Reason(READ, "unknown_format")
READ_CORRUPT_COMPRESSION = Reason(READ, "corrupt_compression")
READ_TOO_LARGE = Reason(READ, "too_large")
READ_READ_ERROR = Reason(READ, "read_error")
READ_INTERNAL_ERROR = Reason(READ, "internal_error")

DECODE_EMPTY_FILE = Reason(DECODE, "empty_file")
DECODE_BINARY = Reason(DECODE, "binary")
DECODE_UNDECODABLE = Reason(DECODE, "undecodable")

PARSE_MALFORMED_JSON = Reason(PARSE, "malformed_json")
PARSE_NOT_AN_OBJECT = Reason(PARSE, "not_an_object")
PARSE_TOO_DEEP = Reason(PARSE, "too_deep")
PARSE_INVALID_UNICODE = Reason(PARSE, "invalid_unicode")
PARSE_LINE_TOO_LONG = Reason(PARSE, "line_too_long")
PARSE_CSV_NO_HEADER = Reason(PARSE, "csv_no_header")
PARSE_CSV_BAD_ROW = Reason(PARSE, "csv_bad_row")
PARSE_CSV_ERROR = Reason(PARSE, "csv_error")
PARSE_NOT_A_FEED = Reason(PARSE, "not_a_feed")
PARSE_FEED_PARSE_ERROR = Reason(PARSE, "feed_parse_error")
PARSE_EMPTY_FEED = Reason(PARSE, "empty_feed")
PARSE_EMPTY_BODY = Reason(PARSE, "empty_body")

NORMALIZE_MISSING_FIELD = Reason(NORMALIZE, "missing_field")
NORMALIZE_UNKNOWN_FORMAT = Reason(NORMALIZE, "unknown_format")
NORMALIZE_NO_TEXT = Reason(NORMALIZE, "no_text")
NORMALIZE_INVALID_RECORD = Reason(NORMALIZE, "invalid_record")
NORMALIZE_INTERNAL_ERROR = Reason(NORMALIZE, "internal_error")

# ``http_<status>`` stands for every HTTP error status: http_404, http_429, http_500 ...
FETCH_HTTP_STATUS = Reason(FETCH, "http_<status>")
FETCH_TIMEOUT = Reason(FETCH, "timeout")
FETCH_TOO_LARGE = Reason(FETCH, "too_large")
FETCH_REDIRECT_LOOP = Reason(FETCH, "redirect_loop")
FETCH_CONNECTION_ERROR = Reason(FETCH, "connection_error")
FETCH_BAD_SCHEME = Reason(FETCH, "bad_scheme")
FETCH_BAD_URL = Reason(FETCH, "bad_url")
FETCH_BAD_ENCODING = Reason(FETCH, "bad_encoding")
FETCH_ERROR = Reason(FETCH, "fetch_error")


def http_status(status: int) -> str:
    """The reason code of an HTTP error status (``http_404``)."""
    return f"http_{status}"


MEANINGS: Mapping[Reason, str] = MappingProxyType({
    MATCH_NO_FILES_MATCHED: "an --input glob matched no file",
    MATCH_BAD_FEED_LIST: "the --feeds list cannot be read",
    MATCH_NO_FEEDS: "the --feeds list names no feed",
    READ_EMPTY_FILE: "a file with no bytes, only whitespace, no JSON lines, no JSON records or a CSV header and no rows",
    READ_UNKNOWN_FORMAT: "--input-format names a format newsbeam does not read",
    READ_CORRUPT_COMPRESSION: "a truncated or corrupt gzip stream (complete JSONL lines before the damage are kept)",
    READ_TOO_LARGE: "a whole-file input over 256 MiB, or a gzip file that inflates past --max-decompressed-bytes "
                    "or by more than 100:1 (JSONL lines before the cap are kept)",
    READ_READ_ERROR: "the file system failed",
    READ_INTERNAL_ERROR: "an unexpected exception while reading a file (a bug); records before it are kept",
    DECODE_EMPTY_FILE: "a record with no bytes to decode",
    DECODE_BINARY: "NUL bytes (and no UTF-16/UTF-32 byte-order mark): not text",
    DECODE_UNDECODABLE: "no encoding yields readable text",
    PARSE_MALFORMED_JSON: "a JSONL line or JSON file that does not parse (including numbers over Python's 4,300-digit limit)",
    PARSE_NOT_AN_OBJECT: "a JSON record that is not an object",
    PARSE_TOO_DEEP: "a JSON document or record nested deeper than 64 levels",
    PARSE_INVALID_UNICODE: "a JSON string or feed entry holding a lone UTF-16 surrogate (e.g. \\ud800): not Unicode text",
    PARSE_LINE_TOO_LONG: "a JSONL line over 16 MiB",
    PARSE_CSV_NO_HEADER: "a CSV whose first row names no known field",
    PARSE_CSV_BAD_ROW: "a CSV row with a different number of fields than the header",
    PARSE_CSV_ERROR: "the CSV module could not parse a row (e.g. a field over 128 KiB: the rest of the file is "
                     "this one row), or found no header row",
    PARSE_NOT_A_FEED: "a feed file that is not RSS/Atom/RDF (e.g. an HTML page)",
    PARSE_FEED_PARSE_ERROR: "a malformed feed with no recoverable entry",
    PARSE_EMPTY_FEED: "a well-formed feed with no entries",
    PARSE_EMPTY_BODY: "a live feed answered 200 with an empty body",
    NORMALIZE_MISSING_FIELD: "a JSONL/CSV/feed record with no text field (whatever its title)",
    NORMALIZE_UNKNOWN_FORMAT: "a record of a format no normaliser handles (a bug)",
    NORMALIZE_NO_TEXT: "no text left after cleaning; an HTML page whose main text has under 10 words",
    NORMALIZE_INVALID_RECORD: "the normalised record fails the schema",
    NORMALIZE_INTERNAL_ERROR: "an unexpected exception while normalising (a bug): the record is kept here with the error",
    FETCH_HTTP_STATUS: "a live feed answered an HTTP error status (4xx/5xx), e.g. http_404, http_429, http_500",
    FETCH_TIMEOUT: "a live feed did not answer, or not completely, in time",
    FETCH_TOO_LARGE: "a live feed's body is over --fetch-max-bytes (after decompression)",
    FETCH_REDIRECT_LOOP: "a live feed redirects more than --fetch-max-redirects times",
    FETCH_CONNECTION_ERROR: "a live feed's server cannot be reached, or dropped the connection",
    FETCH_BAD_SCHEME: "a feed URL that is not http or https",
    FETCH_BAD_URL: "a feed URL that cannot be requested",
    FETCH_BAD_ENCODING: "a live feed's gzip/deflate body cannot be decoded",
    FETCH_ERROR: "any other failure to fetch a live feed",
})

CODES: tuple[str, ...] = tuple(r.code for r in MEANINGS)
_HTTP_STATUS = re.compile(r"http_[1-5][0-9][0-9]")


def is_known(stage: str, reason: str) -> bool:
    """Whether ``stage/reason`` is a listed code (any ``fetch/http_NNN`` counts)."""
    if stage == FETCH and _HTTP_STATUS.fullmatch(reason):
        return True
    return Reason(stage, reason) in MEANINGS
