"""Prompts of the hybrid RAG graph: the answer step is `graphs.rag`'s (same prompts, same
citation handling), so only the replies that need no model live here."""

from graphs.rag.prompts import NO_INDEX_ANSWER, NO_MATCH_ANSWER, SYSTEM_PROMPT, USER_PROMPT  # noqa: F401
