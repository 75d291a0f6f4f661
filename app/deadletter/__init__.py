"""Dead-letter triage: what the topic holds, by reason and minute (docs/operations.md)."""
