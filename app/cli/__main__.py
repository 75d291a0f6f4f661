"""``python -m app.cli``: the same as the ``streamkit`` console script."""

from app.cli.main import run

run()
