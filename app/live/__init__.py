"""``streamkit live``: Wikimedia RecentChange over Server-Sent Events, mapped to shop events."""
