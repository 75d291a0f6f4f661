"""The KPI API (FastAPI): see docs/api.md."""
