"""Prompts of the reasoning graph. The two modes see the same question and the same answer
format; only the JSON fields differ (`reasoning` first in cot mode), so a measured difference
comes from the reasoning, not from the wording."""

SYSTEM_PROMPT = "You solve short logic puzzles. Read carefully and give the answer."

COT_INSTRUCTION = "First write your step-by-step reasoning in the reasoning field, then give the final answer."
DIRECT_INSTRUCTION = "Give only the final answer."

ANSWER_FORMATS = {
    "yes_no": "Answer yes or no.",
    "number": "Answer with a whole number.",
    "choice": "Answer with one of: {choices}.",
    "text": "Answer in a few words.",
}

USER_PROMPT = """{question}
{answer_format} {instruction}"""
