"""Fetching article pages politely: the address guard, robots.txt and per-host pacing.

Plain objects and functions (the Beam steps in ``pages.py`` hold one of each per DoFn, made in
``setup()``):

* :func:`url_guard` -- only ``http``/``https``; the host is resolved and EVERY address it
  resolves to must be public (no private, loopback, link-local, multicast, reserved or
  unspecified address) unless private hosts are allowed; names under the reserved example
  domains (RFC 2606/6761: ``example.com``, ``*.example``, ``*.invalid``, ``*.test``...) are refused
  without any lookup, so saved demo feeds cost nothing.  :func:`pipeline.sources.http.fetch_feed`
  calls the guard before the first request and before every redirect hop.
* :class:`RobotsCache` -- ``/robots.txt`` per origin, parsed by Protego (Scrapy's parser:
  RFC 9309 semantics, wildcards and ``$``, longest match wins, ``Crawl-delay``), cached with a TTL
  and a bounded number of origins.  A 4xx robots.txt allows everything; a 5xx or an unreachable
  one disallows the origin for the cache TTL (RFC 9309 section 2.3.1.4).
* :class:`HostPacer` -- at most ``concurrency`` requests in flight per host and at least
  ``delay`` seconds between the starts of two requests to one host (the larger of ``delay`` and
  the host's robots ``Crawl-delay``, capped).  The Beam step is keyed by host, so one pacer sees
  every request to a host: the limits hold across all workers.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import urlsplit

from pipeline.sources.http import PAGE_ACCEPT, FetchConfig, FetchResult, fetch_feed

# Domains reserved for documentation and testing (RFC 2606, RFC 6761): never fetched.
RESERVED_SUFFIXES = ("example", "invalid", "test", "localhost", "example.com", "example.net", "example.org")
ROBOTS_TTL_S = 24 * 3600.0
ROBOTS_MAX_ORIGINS = 4096
MAX_CRAWL_DELAY_S = 30.0

Resolver = Callable[[str, int], list]


def host_of(url: str) -> str:
    """Lower-case host (with a non-default port) of a URL: the pacing and grouping key."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port not in (None, 80, 443) else None
    return f"{host}:{port}" if port else host


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def is_reserved_name(host: str) -> bool:
    host = host.rstrip(".").lower()
    return any(host == s or host.endswith("." + s) for s in RESERVED_SUFFIXES)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or not ip.is_global)


def check_url(url: str, allow_private: bool = False, resolver: Resolver = socket.getaddrinfo) -> Optional[tuple[str, str]]:
    """``None`` when ``url`` may be fetched, else ``(reason, message)``: ``bad_scheme``,
    ``bad_url``, ``reserved_host``, ``dns_error`` or ``private_address``."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        return "bad_url", f"{exc}: {url!r}"
    if parts.scheme.lower() not in ("http", "https"):
        return "bad_scheme", f"only http and https pages are fetched: {url!r}"
    if not host:
        return "bad_url", f"no host in {url!r}"
    if is_reserved_name(host):
        return "reserved_host", f"{host} is a reserved example/test domain: not fetched"
    try:
        infos = resolver(host, port or (443 if parts.scheme.lower() == "https" else 80))
    except (socket.gaierror, UnicodeError, OSError) as exc:
        return "dns_error", f"{host}: {exc}"
    addresses = sorted({info[4][0] for info in infos})
    if not addresses:
        return "dns_error", f"{host} resolves to no address"
    if allow_private:
        return None
    refused = [a for a in addresses if not _public(a)]
    if refused:
        return "private_address", f"{host} resolves to {', '.join(refused)} (not a public address; --allow-private-hosts)"
    return None


def url_guard(allow_private: bool, resolver: Resolver = socket.getaddrinfo) -> Callable[[str], Optional[tuple[str, str]]]:
    def guard(url: str) -> Optional[tuple[str, str]]:
        return check_url(url, allow_private, resolver)

    return guard


@dataclass
class RobotsVerdict:
    allowed: bool
    status: str  # "allowed", "disallowed", "no_robots" (4xx: all allowed), "unreachable" (5xx/timeout: all refused)
    crawl_delay: Optional[float] = None


class RobotsCache:
    """robots.txt per origin; ``check(url)`` fetches it on first use (through ``fetch``, which the
    caller paces like any other request to the host)."""

    def __init__(self, user_agent: str, ttl_s: float = ROBOTS_TTL_S, max_origins: int = ROBOTS_MAX_ORIGINS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._agent = user_agent.split("/", 1)[0]  # the product token: "newsbeam"
        self._ttl = ttl_s
        self._max = max_origins
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, object, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def cached(self, origin: str) -> bool:
        with self._lock:
            entry = self._entries.get(origin)
            return entry is not None and self._clock() - entry[0] < self._ttl

    def load(self, origin: str, fetch: Callable[[str], FetchResult]) -> None:
        """Fetch and parse ``origin``/robots.txt (a no-op while a fresh copy is cached)."""
        if self.cached(origin):
            return
        with self._lock:
            origin_lock = self._loading.setdefault(origin, threading.Lock())
        with origin_lock:  # one fetch per origin, however many threads ask at once
            try:
                if not self.cached(origin):
                    self._fetch_and_store(origin, fetch)
            finally:
                with self._lock:
                    self._loading.pop(origin, None)

    def _fetch_and_store(self, origin: str, fetch: Callable[[str], FetchResult]) -> None:
        from protego import Protego

        result = fetch(origin + "/robots.txt")
        if result.outcome == "ok":
            parser, status = Protego.parse((result.body or b"").decode("utf-8", "replace")), "allowed"
        elif result.http_status is not None and 400 <= result.http_status < 500:
            parser, status = None, "no_robots"
        else:
            parser, status = None, "unreachable"
        with self._lock:
            self._entries[origin] = (self._clock(), parser, status)
            self._entries.move_to_end(origin)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def verdict(self, url: str) -> RobotsVerdict:
        with self._lock:
            entry = self._entries.get(origin_of(url))
        if entry is None:
            return RobotsVerdict(False, "unreachable")
        _, parser, status = entry
        if parser is None:
            return RobotsVerdict(status == "no_robots", status)
        allowed = parser.can_fetch(url, self._agent)
        delay = parser.crawl_delay(self._agent)
        return RobotsVerdict(allowed, "allowed" if allowed else "disallowed",
                             min(float(delay), MAX_CRAWL_DELAY_S) if delay else None)


class HostPacer:
    """Per host: at most ``concurrency`` requests in flight and ``delay`` seconds between the
    starts of two requests.  ``acquire(host)`` blocks (a worker thread waits its turn);
    ``release(host)`` frees the slot.  Only hosts with a request in flight or a pending delay are
    kept, so memory is bounded by the hosts being fetched now."""

    def __init__(self, concurrency: int = 2, delay: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.concurrency = max(1, concurrency)
        self.delay = max(0.0, delay)
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._in_flight: dict[str, int] = {}
        self._next: dict[str, float] = {}

    def acquire(self, host: str, delay: Optional[float] = None) -> None:
        gap = self.delay if delay is None else max(self.delay, delay)
        with self._cond:
            while True:
                now = self._clock()
                wait = self._next.get(host, 0.0) - now
                if self._in_flight.get(host, 0) < self.concurrency and wait <= 0:
                    self._in_flight[host] = self._in_flight.get(host, 0) + 1
                    self._next[host] = now + gap
                    return
                if wait > 0 and self._in_flight.get(host, 0) < self.concurrency:
                    self._cond.release()
                    try:
                        self._sleep(wait)
                    finally:
                        self._cond.acquire()
                else:
                    self._cond.wait(timeout=1.0)

    def release(self, host: str) -> None:
        with self._cond:
            left = self._in_flight.get(host, 1) - 1
            if left > 0:
                self._in_flight[host] = left
            else:
                self._in_flight.pop(host, None)
                if self._next.get(host, 0.0) <= self._clock():
                    self._next.pop(host, None)
            self._cond.notify_all()


@dataclass(frozen=True)
class PagePolicy:
    """Politeness and safety of page fetching (``--page-*`` options)."""

    concurrency_per_host: int = 2
    delay: float = 1.0
    max_pages: int = 10_000
    allow_private: bool = False
    respect_robots: bool = True


def fetch_page(session, url: str, config: FetchConfig, guard, robots: RobotsCache, pacer: HostPacer) -> tuple[FetchResult, str]:
    """One article page, politely: robots.txt first (loaded once per origin, paced like a page
    request), then the page.  Returns ``(result, robots status)``; a refused page has
    ``result.error`` set (``robots_disallowed``, ``private_address`` ...).  Never raises."""
    host = host_of(url)
    refused = guard(url)
    if refused:
        result = FetchResult(url=url, outcome="error", error=refused[0], message=refused[1])
        return result, "not_checked"
    origin = origin_of(url)

    def hop_guard(target: str) -> Optional[tuple[str, str]]:
        """Every redirect hop: its addresses, and the robots.txt of its origin when it is another."""
        refused_hop = guard(target)
        if refused_hop or robots is None or origin_of(target) == origin:
            return refused_hop
        robots.load(origin_of(target), lambda u: fetch_feed(session, u, config, guard=guard))
        verdict = robots.verdict(target)
        if not verdict.allowed:
            return ("robots_disallowed" if verdict.status == "disallowed" else "robots_unreachable",
                    f"robots.txt of {origin_of(target)}: {verdict.status}")
        return None

    def paced(target: str, delay: Optional[float] = None) -> FetchResult:
        pacer.acquire(host, delay)
        try:
            return fetch_feed(session, target, config, guard=hop_guard, accept=PAGE_ACCEPT)
        finally:
            pacer.release(host)

    if robots is not None:
        robots.load(origin, paced)
        verdict = robots.verdict(url)
        if not verdict.allowed:
            reason = "robots_disallowed" if verdict.status == "disallowed" else "robots_unreachable"
            return FetchResult(url=url, outcome="error", error=reason,
                               message=f"robots.txt of {origin}: {verdict.status}"), verdict.status
        return paced(url, verdict.crawl_delay), verdict.status
    return paced(url), "not_checked"
