"""Fetching one live feed over HTTP, politely and with every cost bounded.

``fetch_feed`` is a plain function over a ``requests.Session`` (one per DoFn, made in
``setup()``): connect and read timeouts, an overall deadline, a body-size cap enforced while
streaming (after gzip/deflate decoding, so a compression bomb is cut off too), at most
``max_redirects`` redirects, only ``http``/``https``, retries with exponential backoff and full
jitter on connection errors, timeouts, 429 and 5xx (honouring ``Retry-After``), bounded in count
and in total time, and conditional GET (``If-None-Match`` / ``If-Modified-Since``).  It never
raises: every outcome is a :class:`FetchResult` with a stable reason code.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3.exceptions

from pipeline import reasons

try:
    from importlib.metadata import version as _version

    __version__ = _version("newsbeam")
except Exception:  # noqa: BLE001 - running from a source tree that is not installed
    __version__ = "0"

USER_AGENT = f"newsbeam/{__version__} (+https://github.com/newsbeam/newsbeam; feed fetcher)"
PAGE_USER_AGENT = f"newsbeam/{__version__} (+https://github.com/newsbeam/newsbeam; article fetcher, honours robots.txt)"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class FetchConfig:
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    deadline: float = 30.0  # seconds for one attempt, body included
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 3  # extra attempts after the first
    backoff: float = 0.5  # first backoff; doubles each retry, full jitter
    max_backoff: float = 8.0
    retry_budget: float = 30.0  # total seconds spent waiting between attempts
    user_agent: str = USER_AGENT


@dataclass
class FetchResult:
    url: str
    outcome: str  # "ok" | "not_modified" | "error"
    http_status: Optional[int] = None
    final_url: Optional[str] = None
    body: Optional[bytes] = None
    headers: dict = field(default_factory=dict)
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    elapsed_ms: int = 0
    bytes: int = 0
    attempts: int = 0
    error: Optional[str] = None  # stable reason code: http_404, timeout, too_large, redirect_loop ...
    message: Optional[str] = None


class _TooLarge(Exception):
    pass


class _Deadline(Exception):
    pass


class _Refused(Exception):
    """A redirect to a URL the guard refuses: ``(reason, message)``."""


def _get(session: requests.Session, url: str, headers: dict, config: FetchConfig, guard) -> requests.Response:
    """The response after redirects; with a guard, each hop is checked before it is requested."""
    timeout = (config.connect_timeout, config.read_timeout)
    if guard is None:
        return session.get(url, headers=headers, timeout=timeout, stream=True, allow_redirects=True)
    current = url
    for _hop in range(config.max_redirects + 1):
        response = session.get(current, headers=headers, timeout=timeout, stream=True, allow_redirects=False)
        if not response.is_redirect:
            return response
        target = requests.compat.urljoin(current, response.headers.get("Location", ""))
        response.close()
        refused = guard(target)
        if refused:
            raise _Refused(refused[0], f"redirect to {target}: {refused[1]}")
        current = target
    raise requests.exceptions.TooManyRedirects(f"Exceeded {config.max_redirects} redirects.")


def make_session(config: FetchConfig, pool_size: int = 10) -> requests.Session:
    """One Session per DoFn (connection reuse); ``pool_size`` connections per host for its threads."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.max_redirects = config.max_redirects
    session.headers.update({"User-Agent": config.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"})
    session.trust_env = False  # no proxies or .netrc picked up from the worker's environment
    return session


def _retry_after(value: Optional[str], now: float) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now) if when else None


def _read_body(response: requests.Response, config: FetchConfig, started: float, clock: Callable[[], float]) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > config.max_bytes and not response.headers.get("Content-Encoding"):
        raise _TooLarge(f"Content-Length {declared} is over the {config.max_bytes}-byte cap")
    chunks, size = [], 0
    raw = response.raw
    while True:
        # read1: whatever has arrived (at most 64 KiB, gzip/deflate decoded), so a server that
        # trickles bytes cannot keep one read busy past the deadline.
        chunk = raw.read1(64 * 1024, decode_content=True)
        if not chunk:
            break
        size += len(chunk)
        if size > config.max_bytes:
            raise _TooLarge(f"body over the {config.max_bytes}-byte cap")
        if clock() - started > config.deadline:
            raise _Deadline(f"body not complete after {config.deadline:.0f} s")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_feed(
    session: requests.Session,
    url: str,
    config: FetchConfig = FetchConfig(),
    etag: Optional[str] = None,
    last_modified: Optional[str] = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Optional[random.Random] = None,
    guard: Optional[Callable[[str], Optional[tuple[str, str]]]] = None,
    accept: Optional[str] = None,
) -> FetchResult:
    """GET ``url`` (conditionally when validators are given); never raises.

    With a ``guard`` (``url -> None`` or ``(reason, message)``), redirects are followed one hop
    at a time and every URL, the first and each redirect target, is checked before any request
    is sent to it (article pages: no private addresses, only http/https); a refused URL ends the
    fetch with the guard's reason code."""
    rng = rng or random.Random()
    started = clock()
    result = FetchResult(url=url, outcome="error")
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        result.error, result.message = reasons.FETCH_BAD_SCHEME.reason, f"only http and https feeds are fetched: {url!r}"
        return result
    if guard is not None:
        refused = guard(url)
        if refused:
            result.error, result.message = refused
            return result
    headers = {"Accept": accept} if accept else {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    waited = 0.0
    for attempt in range(config.retries + 1):
        result.attempts = attempt + 1
        attempt_started = clock()
        retry_wait: Optional[float] = None
        try:
            with _get(session, url, headers, config, guard) as response:
                result.http_status = response.status_code
                result.final_url = response.url
                result.headers = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code == 304:
                    result.outcome, result.error, result.message = "not_modified", None, None
                    result.etag = response.headers.get("ETag") or etag
                    result.last_modified = response.headers.get("Last-Modified") or last_modified
                    break
                if response.status_code in RETRY_STATUSES:
                    result.error, result.message = reasons.http_status(response.status_code), response.reason
                    retry_wait = _retry_after(response.headers.get("Retry-After"), time.time())
                    if retry_wait is None:
                        retry_wait = -1.0  # use the backoff
                elif response.status_code >= 400:
                    result.error, result.message = reasons.http_status(response.status_code), response.reason
                    break
                else:
                    body = _read_body(response, config, attempt_started, clock)
                    result.outcome, result.error, result.message = "ok", None, None
                    result.body, result.bytes = body, len(body)
                    result.etag = response.headers.get("ETag")
                    result.last_modified = response.headers.get("Last-Modified")
                    break
        except _Refused as exc:
            result.error, result.message = exc.args[0], exc.args[1]
            break
        except _TooLarge as exc:
            result.error, result.message = reasons.FETCH_TOO_LARGE.reason, str(exc)
            break
        except _Deadline as exc:
            result.error, result.message = reasons.FETCH_TIMEOUT.reason, str(exc)
            retry_wait = -1.0
        except requests.exceptions.TooManyRedirects as exc:
            result.error, result.message = reasons.FETCH_REDIRECT_LOOP.reason, f"more than {config.max_redirects} redirects: {exc}"
            break
        except (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidURL) as exc:
            result.error, result.message = reasons.FETCH_BAD_URL.reason, f"{type(exc).__name__}: {exc}"
            break
        except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError) as exc:
            result.error, result.message = reasons.FETCH_TIMEOUT.reason, f"{type(exc).__name__}: {exc}"
            retry_wait = -1.0
        except (requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError) as exc:
            result.error, result.message = reasons.FETCH_BAD_ENCODING.reason, f"{type(exc).__name__}: {exc}"
            break
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                urllib3.exceptions.ProtocolError) as exc:
            result.error, result.message = reasons.FETCH_CONNECTION_ERROR.reason, f"{type(exc).__name__}: {exc}"
            retry_wait = -1.0
        except requests.exceptions.RequestException as exc:
            result.error, result.message = reasons.FETCH_ERROR.reason, f"{type(exc).__name__}: {exc}"
            break
        if retry_wait is None or attempt == config.retries:
            break
        if retry_wait < 0:  # exponential backoff with full jitter
            retry_wait = rng.uniform(0, min(config.max_backoff, config.backoff * (2 ** attempt)))
        if waited + retry_wait > config.retry_budget:
            result.message = f"{result.message}; gave up: Retry-After/backoff {retry_wait:.1f} s is over the retry budget"
            break
        sleep(retry_wait)
        waited += retry_wait
    result.elapsed_ms = int((clock() - started) * 1000)
    return result
