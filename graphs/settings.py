"""Moved to `models.settings` (the bottom layer, so agents and tools can use it too): import from there.

Kept only so branches written against the old path still import; nothing in the tree uses it.
"""

from models.settings import FALSE_WORDS, env, env_flag  # noqa: F401
