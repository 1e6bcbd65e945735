"""A calculator tool that evaluates arithmetic safely (no `eval`: an AST walk over numbers and
operators only).

    from tools.calculator import evaluate
    evaluate("2 * (3 + 4) ** 2 / 7")     # 14.0
    evaluate("sqrt(2) * 10 % 3")
"""

from __future__ import annotations

import ast
import math
import operator

from langchain_core.tools import tool

OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
             ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
             ast.USub: operator.neg, ast.UAdd: operator.pos}
FUNCTIONS = {"sqrt": math.sqrt, "log": math.log, "log10": math.log10, "exp": math.exp, "abs": abs, "round": round,
             "sin": math.sin, "cos": math.cos, "tan": math.tan, "min": min, "max": max}
CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_EXPONENT = 1000


class CalculationError(ValueError):
    pass


def evaluate(expression: str) -> float | int:
    """The value of an arithmetic expression; CalculationError says what is not allowed."""
    try:
        tree = ast.parse(expression.replace("^", "**").replace("×", "*").replace("÷", "/"), mode="eval")
    except SyntaxError:
        raise CalculationError(f"{expression!r} is not an arithmetic expression (e.g. '2 * (3 + 4)').") from None
    return _value(tree.body)


def _value(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name) and node.id in CONSTANTS:
        return CONSTANTS[node.id]
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
            raise CalculationError(f"{node.func.id}(): {exc}") from None
    allowed = ", ".join(FUNCTIONS)
    raise CalculationError(f"Only numbers, + - * / // % ** and the functions {allowed} are allowed.")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as '2 * (3 + 4)' or 'sqrt(16) / 2'."""
    result = evaluate(expression)
    if isinstance(result, float) and result.is_integer() and abs(result) < 1e15:
        result = int(result)
    return f"{expression} = {result:g}" if isinstance(result, float) else f"{expression} = {result}"
