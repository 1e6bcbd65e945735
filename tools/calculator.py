"""A calculator tool that evaluates arithmetic safely (no `eval`: an AST walk over numbers and
operators only), written the way people write numbers.

    from tools.calculator import evaluate
    evaluate("2 * (3 + 4) ** 2 / 7")     # 14.0
    evaluate("17% of 2,340")            # 397.8
    evaluate("What is $1,200 * 3?")     # 3600

Before parsing, `to_expression` rewrites what people type: a question around the sum ("what is",
"?"), thousands separators ("2,340"), "x% of y" and "x percent of y", a trailing percent ("2340 *
17%": 17% is 0.17), words for operators ("times", "plus", "divided by"), and currency signs and
units after numbers ("$", "kg", "km", "dollars"). `%` between two numbers stays the remainder
operator ("10 % 3" is 1). Write function arguments with a space after the comma ("max(1, 234)"):
"1,234" is one number.
"""

from __future__ import annotations

import ast
import math
import operator
import re

from langchain_core.tools import tool

OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
             ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
             ast.USub: operator.neg, ast.UAdd: operator.pos}
FUNCTIONS = {"sqrt": math.sqrt, "log": math.log, "log10": math.log10, "exp": math.exp, "abs": abs, "round": round,
             "sin": math.sin, "cos": math.cos, "tan": math.tan, "min": min, "max": max}
CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_EXPONENT = 1000

NUMBER = r"\d+(?:\.\d+)?"
QUESTION = re.compile(r"^\s*(?:(?:what|how much)(?:'s| is| are| does| do)?|calculate|compute|evaluate|work out|tell me)\b\s*"
                      r"(?:the value of\b|the result of\b)?\s*", re.IGNORECASE)
THOUSANDS = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\d,])")
PERCENT_OF = re.compile(rf"({NUMBER})\s*(?:%|percent|per cent|pct)\s*of\s*", re.IGNORECASE)
PERCENT = re.compile(rf"({NUMBER})\s*(?:%|percent\b|per cent\b|pct\b)(?=\s*(?:$|[)+\-*/^]))", re.IGNORECASE)
WORDS = [(r"\bmultiplied by\b|\btimes\b", "*"), (r"\bdivided by\b|\bover\b", "/"), (r"\bplus\b", "+"),
         (r"\bminus\b", "-"), (r"\bto the power of\b", "**"), (r"(?<=\d)\s*[x×]\s*(?=[\d(])", " * "), ("÷", "/"),
         (r"\^", "**")]
CURRENCY = re.compile(r"[$€£¥₹]|\b(?:usd|eur|gbp|chf)\b", re.IGNORECASE)
UNITS = re.compile(r"(?<=[\d)])\s*(?:km|kms|m|cm|mm|mi|miles?|kg|kgs|g|grams?|lbs?|pounds|dollars?|euros?|cents?|"
                   r"hours?|hrs?|h|minutes?|mins?|seconds?|secs?|s|days?|weeks?|years?|°\s*[cf]|degrees?|items?|people|"
                   r"units?|pieces?|l|liters?|litres?|ml)\b", re.IGNORECASE)


class CalculationError(ValueError):
    pass


def to_expression(text: str) -> str:
    """The arithmetic expression in what a person typed.

    >>> to_expression("What is 17% of 2,340?")
    '(17/100)*2340'
    >>> to_expression("$1,200.50 times 3")
    '1200.50 * 3'
    >>> to_expression("2340 * 17%")
    '2340 * (17/100)'
    >>> to_expression("12 kg + 500 g")
    '12 + 500'
    """
    expression = QUESTION.sub("", text.strip()).strip().rstrip("?.!= ").strip()
    expression = THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), expression)
    expression = CURRENCY.sub("", expression)
    expression = PERCENT_OF.sub(lambda m: f"({m.group(1)}/100)*", expression)
    expression = PERCENT.sub(lambda m: f"({m.group(1)}/100)", expression)
    for pattern, replacement in WORDS:
        expression = re.sub(pattern, replacement, expression, flags=re.IGNORECASE)
    expression = UNITS.sub("", expression)
    return " ".join(expression.split()).replace("( ", "(").replace(" )", ")")


def evaluate(expression: str) -> float | int:
    """The value of an arithmetic expression; CalculationError says what is not allowed."""
    rewritten = to_expression(expression)
    if not rewritten:
        raise CalculationError(f"{expression!r} holds no arithmetic. Write a sum such as '17% of 2,340' or '2 * (3 + 4)'.")
    try:
        tree = ast.parse(rewritten.replace("×", "*"), mode="eval")
    except SyntaxError:
        shown = f" (read as {rewritten!r})" if rewritten != expression.strip() else ""
        raise CalculationError(f"{expression!r}{shown} is not an arithmetic expression. Write numbers and operators, "
                               f"e.g. '17% of 2,340', '2 * (3 + 4)' or 'sqrt(16) / 2'.") from None
    return _value(tree.body)


def _value(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name) and node.id in CONSTANTS:
        return CONSTANTS[node.id]
    if isinstance(node, ast.Name):
        raise CalculationError(f"{node.id!r} is not a number, a constant (pi, e) or a function call; "
                               f"write the sum in digits, e.g. '2 + 2'.")
    if isinstance(node, ast.UnaryOp) and type(node.op) in OPERATORS:
        return OPERATORS[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise CalculationError(f"Exponent {right} is too large (limit {MAX_EXPONENT}).")
        try:
            return OPERATORS[type(node.op)](left, right)
        except ZeroDivisionError:
            raise CalculationError("Division by zero.") from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and not node.keywords:
        try:
            return FUNCTIONS[node.func.id](*[_value(a) for a in node.args])
        except (TypeError, ValueError) as exc:
            raise CalculationError(f"{node.func.id}(): {exc}. Separate arguments with ', ' "
                                   f"('1,234' is one number).") from None
    allowed = ", ".join(FUNCTIONS)
    raise CalculationError(f"Only numbers, + - * / // % ** and the functions {allowed} are allowed.")


def format_number(value: float | int) -> str:
    """A result as people read it: whole floats without '.0', others to 10 significant digits.

    >>> format_number(397.79999999999995), format_number(3600.0), format_number(1 / 3)
    ('397.8', '3600', '0.3333333333')
    """
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.10g}"
    return str(value)


def match_arithmetic(text: str) -> list[dict] | None:
    """A calculator call for a request that is plain arithmetic ("What is 17% of 2,340?"), else None:
    the basic toolset's sentence matcher, tried before the model.

    >>> match_arithmetic("What is 17% of 2,340?")
    [{'name': 'calculator', 'args': {'expression': '17% of 2,340'}}]
    >>> match_arithmetic("What's the weather in Lisbon?") is None, match_arithmetic("What is 2024?") is None
    (True, True)
    """
    expression = QUESTION.sub("", text.strip()).strip().rstrip("?.!= ").strip()
    if not re.search(r"\d", expression):
        return None
    if not re.search(r"[-+*/%^(×÷]|\b(?:of|times|plus|minus|divided|percent)\b", to_expression(expression) + expression):
        return None  # a bare number is not a sum
    try:
        evaluate(expression)
    except (CalculationError, ArithmeticError, TypeError, ValueError, RecursionError, SyntaxError):
        return None
    return [{"name": "calculator", "args": {"expression": expression}}]


@tool
def calculator(expression: str) -> str:
    """Evaluate arithmetic such as '2 * (3 + 4)', '17% of 2,340' or 'sqrt(16) / 2'."""
    return f"{expression} = {format_number(evaluate(expression))}"
