"""Prompts of the conversational RAG graph. Answering uses `rag.answering`'s prompts;
only the rewriting step has its own. Small models rewrite best when
shown a few plain lines of conversation and asked for one field of JSON."""

REWRITE_SYSTEM_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the conversation. "
    "Replace words such as 'it', 'that' or 'there' with the thing they refer to. "
    "Keep the meaning. Do not answer the question."
)

REWRITE_USER_PROMPT = """Conversation:
{conversation}

Last question: {question}
Standalone question:"""

CONVERSATION_LINE = "{speaker}: {text}"

# The fallback when the model's rewrite does not pass the checks: the earlier topic first, so
# that retrieval and the answering model both see what "it" is about.
KEYWORD_REWRITE = "About {topic}: {question}"
