"""The use cases: one module per command family (produce, consume, verify, demo, jobs, doctor,
freshness, query, ...).

An operation takes typed clients and settings (never the CLI context, never a Typer object),
does the work, and returns a typed result (a dataclass or pydantic model) that the command renders.
Operations never print: progress goes through a callback the command passes in.
"""
