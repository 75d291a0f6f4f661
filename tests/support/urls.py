"""URL helpers of the contract suites."""

from __future__ import annotations


def with_query(url: str, query: str) -> str:
    """``url`` with ``query`` appended, whether or not it already has a query string."""
    return f"{url}{'&' if '?' in url else '?'}{query}"
