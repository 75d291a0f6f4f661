"""The ASGI app for servers that import one: ``uvicorn app.api.asgi:app`` (the Dockerfile)."""

from app.api.main import create_app

app = create_app()
