"""URL canonicalisation (for exact dedup and joins)."""

from __future__ import annotations

import re
from typing import Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track the visitor; removed from canonical URLs.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "rb_clickid",
        "s_cid", "vero_conv", "vero_id", "wickedid", "ncid", "cmpid", "ocid", "sr_share",
        "at_medium", "at_campaign", "ito", "spm", "share", "ref", "ref_src", "ref_url", "referrer",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "hsa_", "at_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WS = re.compile(r"\s+")


def canonical_url(url: Optional[str]) -> Optional[str]:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters.

    Remaining query parameters keep their order; a trailing slash on a
    non-root path is dropped.  Returns ``None`` for anything that is not an
    absolute http(s) URL.
    """
    if not url:
        return None
    url = _WS.sub("", url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if port and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(_TRACKING_PREFIXES)
        ]
    )
    return urlunsplit((scheme, host, path, query, ""))


def domain_of(url: Optional[str]) -> Optional[str]:
    """Host of ``url`` without a leading ``www.``."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.lower()
    return host[4:] if host.startswith("www.") else host
