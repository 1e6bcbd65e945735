"""Prompts of the ReAct agent."""

SYSTEM_PROMPT = """You are a helpful assistant that uses tools.
Call a tool when it can answer or act; answer directly when no tool fits.
{toolset_notes}"""

TOOL_ERROR_RETRY = "The tool call failed: {error}\nFix the arguments and call again, or answer without the tool."

GAVE_UP = "I could not complete that: {error}"

RECURSION_LIMIT_ANSWER = "I stopped after {steps} steps without finishing. What I found so far:\n{findings}"

CONFIRM_QUESTION = "Do you want me to {action}? (yes/no)"

DECLINED = "OK, I did not {action}."
