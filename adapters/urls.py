"""Small helpers for binding URLs: masking credentials, reading query options."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

# user:password@ in the authority part; works for multi-host Mongo URLs too,
# which urllib cannot parse a port from.
_CREDENTIALS = re.compile(r"(?P<head>//[^/@:?#]*):(?P<password>[^@/?#]*)@")


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to log or print."""
    return _CREDENTIALS.sub(r"\g<head>:***@", url, count=1)


def query_options(url: str) -> dict[str, str]:
    """The URL's query parameters as a dict (the last value wins)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
