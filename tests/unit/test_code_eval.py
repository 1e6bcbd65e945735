"""Sandboxed code evaluation: the fence holds on the attacks that matter most, the problems'
own tests are right, and pass@k matches the unbiased estimator computed by brute force."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from evals.code_eval import (extract_code, load_attacks, load_problems, pass_at_k, program_for, run_attacks,
                             score_samples, snapshot)
from tools.sandbox import run_python


def brute_force_pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement passes."""
    outcomes = [True] * c + [False] * (n - c)
    draws = list(itertools.combinations(range(n), k))
    return sum(any(outcomes[i] for i in draw) for draw in draws) / len(draws)


@pytest.mark.parametrize("n,c,k", [(5, 0, 1), (5, 2, 1), (5, 2, 3), (10, 3, 5), (7, 7, 2), (6, 1, 6)])
def test_pass_at_k_is_the_unbiased_estimator(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k))
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


def test_pass_at_k_refuses_k_above_n():
    with pytest.raises(ValueError, match="raise --n"):
        pass_at_k(2, 1, 5)


def test_canonical_solutions_pass_and_empty_bodies_fail():
    problems = load_problems()
    assert len(problems) >= 20
    right = score_samples(problems, {p["task_id"]: [p["canonical_solution"]] for p in problems}, [1])
    empty = score_samples(problems, {p["task_id"]: ["    pass\n"] for p in problems}, [1])
    assert right["pass@1"] == 1.0, [r for r in right["problems"] if r["correct"] == 0]
    assert empty["pass@1"] == 0.0


def test_a_wrong_answer_fails_and_a_restated_function_replaces_the_prompt():
    problem = next(p for p in load_problems() if p["entry_point"] == "is_leap_year")
    wrong = "    return year % 4 == 0\n"
    full = "def is_leap_year(year):\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n"
    assert run_python(program_for(problem, wrong), timeout=10).status == "failed"
    assert run_python(program_for(problem, extract_code(f"Sure:\n```python\n{full}```")), timeout=10).passed


def test_bad_problem_file_names_the_missing_field(tmp_path):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"task_id": "x", "prompt": "def f():\\n"}\n')
    with pytest.raises(ValueError, match=r"p.jsonl:1 lacks \['entry_point', 'test'\]"):
        load_problems(bad)


QUICK_ATTACKS = ("fork_bomb", "remove_outside", "write_outside", "socket_loopback", "kill_parent",
                 "rebind_sandbox_globals", "infinite_loop")


def test_quick_attacks_are_contained_and_nothing_outside_changes(tmp_path):
    attacks = [a for a in load_attacks() if a["name"] in QUICK_ATTACKS]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    before = snapshot(outside)
    rows = run_attacks(attacks, outside, timeout=2.0)
    assert [r["name"] for r in rows if not r["contained"]] == []
    assert {r["name"]: r["status"] for r in rows if r["expect"] == "blocked"} == \
        {a["name"]: "blocked" for a in attacks if a["expect"] == "blocked"}
    after = snapshot(outside)
    assert after == {**before, "canary.txt": after["canary.txt"]}  # only the canary run_attacks wrote
    assert (outside / "keep.txt").read_text() == "precious"


def test_benign_code_works_inside_its_folder():
    result = run_python("open('notes.txt', 'w').write('hi')\nimport os\nprint(sorted(os.listdir('.')), os.environ['HOME'] == os.getcwd())",
                        timeout=10)
    assert result.status == "passed", result.stderr
    assert result.stdout.strip() == "['notes.txt', 'program.py'] True"
    assert result.layers["audit_hook"] and result.layers["rlimits"] and result.layers["separate_process"]


def test_the_throwaway_folder_is_removed():
    result = run_python("import os\nprint(os.getcwd())", timeout=10)
    assert result.passed and not Path(result.stdout.strip()).exists()


def test_docstring_examples():
    import doctest

    import evals.code_eval

    result = doctest.testmod(evals.code_eval)
    assert result.attempted > 0 and result.failed == 0
