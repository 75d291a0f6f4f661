"""Small helpers for binding URLs: masking credentials, reading query options."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

# user:password@ in the authority part; works for multi-host Mongo URLs too,
# which urllib cannot parse a port from.
_CREDENTIALS = re.compile(r"(?P<head>//[^/@:?#]*):(?P<password>[^@/?#]*)@")
# A query option whose name says it holds a secret: librdkafka's sasl.password and
# ssl.key.password, pyarrow's S3 secret_key and session_token, an api_key. Names only:
# values of other options (appname=a:b@c) are left as they are.
_SECRET_OPTION = re.compile(
    r"(?P<head>[?&](?!fault\.)[^=&#]*(?:password|secret|token|api_?key|credential)[^=&#]*=)"
    r"(?P<value>[^&#]*)",
    re.IGNORECASE,
)


def mask_url(url: str) -> str:
    """``url`` with any password or secret option replaced by ``***``, safe to log or print."""
    url = _CREDENTIALS.sub(r"\g<head>:***@", url, count=1)
    return _SECRET_OPTION.sub(lambda m: m["head"] + ("***" if m["value"] else ""), url)


def query_options(url: str) -> dict[str, str]:
    """The URL's query parameters as a dict (the last value wins)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
