"""Fault injection against an independent oracle (``streamkit chaos``, docs/reliability.md).

:mod:`app.chaos.oracle` computes the minute KPIs and sessions from the definitions alone,
sharing no code with the stream job (``app/pipeline``; a test holds the rule), and
:mod:`app.chaos.compare` lists where the job's output differs from it.
"""
