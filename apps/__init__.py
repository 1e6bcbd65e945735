"""User-facing entry points: `python -m apps.<name>` (chat, ask, serve, doctor)."""
