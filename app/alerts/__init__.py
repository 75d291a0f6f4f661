"""Alert rules and their evaluation (issue 9; docs/monitoring.md)."""
