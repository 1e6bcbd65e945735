"""Prompts of the ReAct agent."""

from tools.agent_prompt import TOOL_AGENT_SYSTEM_PROMPT

SYSTEM_PROMPT = TOOL_AGENT_SYSTEM_PROMPT  # shared with training.tool_data, so a tool-call fine-tune sees this exact prompt

TOOL_ERROR_RETRY = "The tool call failed: {error}\nFix the arguments and call again, or answer without the tool."

GAVE_UP = "I could not complete that: {error}"

RECURSION_LIMIT_ANSWER = "I stopped after {steps} steps without finishing. What I found so far:\n{findings}"

CONFIRM_QUESTION = "Do you want me to {action}? (yes/no)"

DECLINED = "OK, I did not {action}."
