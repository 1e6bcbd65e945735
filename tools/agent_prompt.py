"""The system prompt a tool-calling agent starts from, shared by the agent graph that asks the model
(graphs/react_agent) and the training data that teaches the model to answer it (training.tool_data):
a fine-tune must see exactly the prompt it will be served with."""

TOOL_AGENT_SYSTEM_PROMPT = """You are a helpful assistant that uses tools.
Call a tool when it can answer or act; answer directly when no tool fits.
{toolset_notes}"""
