"""URLs as users give them: checking they parse, and never showing or storing the credentials written inside.

>>> redact_url("http://user:sk-123@host:8000/v1")
'http://***@host:8000/v1'
>>> redact_url("http://a:k@h1/v1, http://h2/v1")
'http://***@h1/v1, http://h2/v1'
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["has_password", "redact_url", "url_problem"]

# scheme://userinfo@ : everything between "//" and the last "@" before the host's "/" (or the end) is userinfo
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s,]*)@")
# key=... in a query string
_SECRET_QUERY_RE = re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access_token|password|secret)=)[^&#\s,]*")


def redact_url(text: str | None) -> str:
    """`text` with every URL's user:password (and ?api_key=... style secrets) replaced by `***`; any text may
    hold several URLs (a comma list, an error message)."""
    if not text:
        return text or ""
    text = _USERINFO_RE.sub(lambda m: f"{m['scheme']}***@", text)
    return _SECRET_QUERY_RE.sub(lambda m: f"{m[1]}***", text)


def has_password(text: str) -> bool:
    """True if a URL in `text` carries a password (`http://user:KEY@host`) or a secret query parameter."""
    return any(":" in m["userinfo"] for m in _USERINFO_RE.finditer(text)) or bool(_SECRET_QUERY_RE.search(text))


def url_problem(text: str) -> str | None:
    """Why `text` is not a usable http(s) URL (a phrase to follow the URL), or None if it is one."""
    if not text.strip():
        return "is empty; give a URL such as http://localhost:8000/v1"
    if any(c.isspace() for c in text.strip()) or "\0" in text:
        return "holds spaces or control characters"
    try:
        parts = urlsplit(text.strip())
        port = parts.port  # reading it validates it (ValueError past 65535 or not a number)
        host = parts.hostname
    except ValueError as e:
        return f"is not a valid URL ({e})"
    if parts.scheme not in ("http", "https"):
        return "is not an http:// or https:// URL"
    if not host:
        return "has no host name"
    if port == 0:
        return "has port 0"
    return None
