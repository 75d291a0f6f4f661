"""Minutes and sessions recomputed from the archive: reconcile and backfill (docs/operations.md)."""
