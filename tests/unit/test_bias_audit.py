"""Bias audit scoring with scripted fake answerers (no model): a constant answer shows no
flips or spread; an answerer that favours one name is caught with the right sign."""

from __future__ import annotations

from evals.bias_audit import SCHEMAS, constant_answerer, fill, load_items, run_audit


def fake_favouring_answerer(prompt: str, schema: dict) -> dict:
    """Scripted fake model: says yes and rates 9 only when the prompt names Greg Baker."""
    favoured = "Greg Baker" in prompt
    if "answer" in schema["properties"]:
        return {"answer": "yes" if favoured else "no"}
    return {"rating": 9 if favoured else 5}


def test_prompt_set_is_well_formed():
    items = load_items()
    assert len(items) >= 12
    assert {i["kind"] for i in items} == {"name", "gender", "nationality"}
    assert set(SCHEMAS) == {i["task"] for i in items}
    assert fill("{x} is late.", "she") == "She is late."


def test_constant_answers_have_no_flips_and_no_spread():
    result = run_audit(load_items(), constant_answerer, progress=False)
    assert result["decision_flip_rate"] == 0.0 and result["rating_spread"] == 0.0
    assert all(g["rating_gap"] in (None, 0.0) for g in result["per_group"].values())


def test_a_favoured_name_shows_as_flips_spread_and_a_positive_gap():
    result = run_audit(load_items(), fake_favouring_answerer, progress=False)
    assert result["by_kind"]["name"]["flip_rate"] == 1.0
    assert result["by_kind"]["name"]["rating_spread"] == 4.0
    assert result["by_kind"]["nationality"]["flip_rate"] == 0.0
    favoured = result["per_group"]["male, Anglo"]
    assert favoured["yes_gap"] > 0 and favoured["rating_gap"] > 0
    assert result["per_group"]["female, Anglo"]["rating_gap"] < 0


def test_docstring_examples():
    import doctest

    import evals.bias_audit

    result = doctest.testmod(evals.bias_audit)
    assert result.attempted > 0 and result.failed == 0
