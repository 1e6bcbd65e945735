"""The harness's task configs (evals/tasks) load from local files with the network blocked,
and lm-eval scores them end to end with a scripted fake model (no real model): right answers
score 1, wrong ones 0, through the same answer extraction the real runs use."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

pytest.importorskip("lm_eval")

from lm_eval.api.model import LM  # noqa: E402

from evals.harness import (HarnessError, TASKS, backend_for, evaluate, no_model_rows, parse_tasks,  # noqa: E402
                           task_manager)
from models.spec import parse_model_spec  # noqa: E402


@pytest.fixture()
def data_root(tmp_path):
    """A tiny data root in the layout of ../shared/data, written by the test."""
    gsm = tmp_path / "gsm8k"
    gsm.mkdir()
    lines = []
    for i in range(56):
        a, b = 3 + i, 10 * i + 7
        lines.append(json.dumps({"question": f"Ann has {a} apples and buys {b} more. How many apples does she have?",
                                 "answer": f"She has {a} + {b} = <<{a}+{b}={a + b}>>{a + b} apples.\n#### {a + b}"}))
    (gsm / "train.jsonl").write_text("\n".join(lines) + "\n")
    pub = tmp_path / "pubmedqa_pqal"
    pub.mkdir()
    labels = ["yes", "no", "maybe", "yes", "no", "yes"]
    items = {str(100 + i): {"QUESTION": f"Does drug {i} lower blood pressure?", "CONTEXTS": [f"Trial {i}.", "Results."],
                            "final_decision": label} for i, label in enumerate(labels)}
    (pub / "ori_pqal.json").write_text(json.dumps(items))
    (pub / "test_ground_truth.json").write_text(json.dumps({"100": "yes", "101": "no", "102": "maybe"}))
    geo = tmp_path / "geoquery"
    geo.mkdir()
    with sqlite3.connect(geo / "geography.sqlite") as db:
        db.execute("CREATE TABLE STATE (STATE_NAME TEXT, POPULATION INTEGER)")
        db.executemany("INSERT INTO STATE VALUES (?, ?)", [("texas", 30), ("ohio", 12), ("utah", 3)])
    geo_rows = [(f"geo-{i}", question, sql, split) for i, (question, sql, split) in enumerate([
        ("how many people live in texas", 'SELECT POPULATION FROM STATE WHERE STATE_NAME = "texas" ;', "train"),
        ("list the states", "SELECT STATE_NAME FROM STATE ;", "train"),
        ("which state has the most people", "SELECT STATE_NAME FROM STATE ORDER BY POPULATION DESC LIMIT 1 ;", "train"),
        ("how many people live in ohio", 'SELECT POPULATION FROM STATE WHERE STATE_NAME = "ohio" ;', "dev"),
        ("list the states by population", "SELECT STATE_NAME FROM STATE ORDER BY POPULATION ;", "dev"),
        ("a gold query that fails on the file", "SELECT NOPE FROM STATE ;", "dev")])]
    for split in ("train", "dev"):
        (geo / f"{split}.jsonl").write_text("".join(
            json.dumps({"id": i, "db_id": "geography", "question": q, "query": sql, "split": sp}) + "\n"
            for i, q, sql, sp in geo_rows if sp == split))
    bfcl = tmp_path / "bfcl"
    (bfcl / "possible_answer").mkdir(parents=True)
    area = {"name": "math.area", "description": "Area of a rectangle.", "parameters": {
        "type": "dict", "properties": {"width": {"type": "integer"}, "height": {"type": "integer"},
                                       "unit": {"type": "string"}}, "required": ["width", "height"]}}
    volume = {**area, "name": "volume", "description": "Volume of a cube."}
    for category, functions in (("simple_python", [area]), ("multiple", [volume, area])):
        questions, answers = [], []
        for i in range(4 if category == "simple_python" else 2):
            questions.append({"id": f"{category}_{i}", "function": functions,
                              "question": [[{"role": "user", "content": f"Area of a {i + 2} by {i + 5} rectangle?"}]]})
            answers.append({"id": f"{category}_{i}",
                            "ground_truth": [{"math.area": {"width": [i + 2], "height": [i + 5], "unit": ["", "m"]}}]})
        (bfcl / f"BFCL_v4_{category}.json").write_text("\n".join(map(json.dumps, questions)))
        (bfcl / "possible_answer" / f"BFCL_v4_{category}.json").write_text("\n".join(map(json.dumps, answers)))
    return tmp_path


class FakeLM(LM):
    """Scripted fake model for lm-eval: answers GSM8K by adding the two numbers of the last
    question (or says 0 when `wrong`), and gives the gold PubMedQA choice the best log-likelihood."""

    def __init__(self, gold: dict[str, str], wrong: bool = False):
        super().__init__()
        self.gold, self.wrong = gold, wrong

    def generate_until(self, requests):
        replies = []
        for request in requests:
            context = request.args[0]
            if context.endswith("SQL:"):   # geoquery: the gold SQL of the two dev questions, or a wrong one
                question = re.findall(r"Question: (.*)\nSQL:", context)[-1]
                right = {"how many people live in ohio": " SELECT POPULATION FROM STATE WHERE STATE_NAME = 'ohio'",
                         "list the states by population": " SELECT STATE_NAME FROM STATE ORDER BY POPULATION ;"}
                replies.append(" SELECT POPULATION FROM STATE" if self.wrong else right[question])
                continue
            if context.endswith("Call:"):   # bfcl: the area call with the request's two numbers
                a, b = map(int, re.findall(r"Area of a (\d+) by (\d+)", context)[-1])
                name = "volume" if self.wrong else "math.area"
                replies.append(f" {name}(width={a}, height={b})")
                continue
            a, b = map(int, re.findall(r"has (\d+) apples and buys (\d+)", context)[-1])
            total = 0 if self.wrong else a + b
            cot = "The answer is" in context
            replies.append(f" She has {a} + {b} = {total} apples. The answer is {total}." if cot
                           else f" She has {a} + {b} = {total} apples.\n#### {total}")
        return replies

    def loglikelihood(self, requests):
        out = []
        for request in requests:
            context, continuation = request.args
            if "Answer yes or no." in context or "from 1 to 10" in context:
                # bias items: "yes" and "7" always, or (wrong) "no" and "2" for Jamal Jones only
                favoured = ("no", "2") if self.wrong and "Jamal Jones" in context else ("yes", "7")
                out.append((-0.1 if continuation.strip() in favoured else -5.0, False))
                continue
            question = re.search(r"Question: (.*)\nAnswer:", context).group(1)
            right = continuation.strip() == self.gold[question]
            out.append((-0.1 if right != self.wrong else -5.0, right))
        return out

    def loglikelihood_rolling(self, requests):
        raise NotImplementedError


def gold_answers(root) -> dict[str, str]:
    items = json.loads((root / "pubmedqa_pqal" / "ori_pqal.json").read_text())
    return {v["QUESTION"]: v["final_decision"] for v in items.values()}


def test_task_configs_load_from_local_files(data_root):
    manager = task_manager(data_root)
    assert set(TASKS.values()) <= set(manager.all_tasks)
    from lm_eval.tasks import get_task_dict

    tasks = get_task_dict(list(TASKS.values()), manager)
    pubmed = tasks["hearth_pubmedqa"]
    docs = list(pubmed.test_docs())
    assert [d["pmid"] for d in docs] == ["100", "101", "102"]
    assert pubmed.doc_to_choice(docs[0]) == ["yes", "no", "maybe"]
    assert pubmed.doc_to_target(docs[1]) == 1
    gsm = tasks["hearth_gsm8k"]
    assert len(list(gsm.test_docs())) == 6  # 56 problems minus the 50 few-shot pool
    assert gsm.doc_to_text(next(iter(gsm.test_docs()))).startswith("Question: Ann has 53 apples")


@pytest.mark.parametrize("wrong,expected", [(False, 1.0), (True, 0.0)])
def test_lm_eval_scores_every_task_end_to_end(data_root, wrong, expected):
    scores = evaluate(FakeLM(gold_answers(data_root), wrong=wrong), list(TASKS), data_root=data_root, limit=None)
    assert scores["gsm8k"]["metrics"]["exact_match (strict-match)"] == expected
    assert scores["gsm8k"]["metrics"]["exact_match (flexible-extract)"] == expected
    assert scores["gsm8k_cot"]["metrics"]["exact_match (strict-match)"] == expected
    assert scores["pubmedqa"]["metrics"]["acc"] == expected
    assert scores["pubmedqa"]["n"] == 3 and scores["gsm8k"]["n"] == 6
    assert scores["geoquery"]["metrics"]["exec_acc"] == expected
    assert scores["bfcl"]["metrics"]["ast_acc"] == expected
    assert scores["geoquery"]["n"] == 2   # the dev query that fails on the file is left out
    assert scores["bfcl"]["n"] == 3       # 6 items minus the 3-item few-shot pool
    # bias: every variant answered alike scores 0; singling one name out flips each item that has it
    from evals.bias_audit import load_items

    items = load_items()
    with_jamal = [i for i in items if any(v["value"] == "Jamal Jones" for v in i["variants"])]
    decide = [i for i in items if i["task"] == "decide"]
    rate = [i for i in items if i["task"] == "rate"]
    flips = sum(i["task"] == "decide" for i in with_jamal) / len(decide)
    spread = 5 * sum(i["task"] == "rate" for i in with_jamal) / len(rate)
    assert scores["bias"]["metrics"]["flip_rate"] == pytest.approx(flips if wrong else 0.0)
    assert scores["bias"]["metrics"]["rating_spread"] == pytest.approx(spread if wrong else 0.0)
    assert scores["bias"]["n"] == sum(len(i["variants"]) for i in items)


def test_rows_without_a_model(data_root):
    rows = no_model_rows(["gsm8k", "pubmedqa", "geoquery", "bfcl", "bias"], data_root, None)
    assert rows["pubmedqa"]["metrics"]["acc"] == pytest.approx(1 / 3)  # one 'yes' among the 3 test items
    assert rows["gsm8k"]["metrics"]["exact_match (strict-match)"] == 0.0
    # "how many people live in ohio" borrows the texas query (wrong rows); "list the states by
    # population" borrows "list the states" (right rows, wrong order)
    assert rows["geoquery"]["metrics"]["exec_acc"] == 0.0
    assert rows["bfcl"]["metrics"]["ast_acc"] == 0.0
    assert rows["bias"]["metrics"] == {"flip_rate": 0.0, "rating_spread": 0.0}


def test_bad_arguments_name_the_fix():
    with pytest.raises(HarnessError, match="choose from gsm8k"):
        parse_tasks("gsm8k,mmlu")
    assert parse_tasks("all") == list(TASKS)
    with pytest.raises(HarnessError, match="--backend api"):
        backend_for(parse_model_spec("openai:m@http://127.0.0.1:9/v1"), "hf")
    assert backend_for(parse_model_spec("local"), "auto") == "serve"
    assert backend_for(parse_model_spec("vllm:m@http://127.0.0.1:9/v1"), "auto") == "api"


def test_docstring_examples():
    import doctest
    import importlib.util

    import evals.harness

    spec = importlib.util.spec_from_file_location("harness_task_utils", evals.harness.TASK_DIR / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    for module in (evals.harness, utils):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


def test_a_limit_cuts_the_other_tasks_but_leaves_the_bias_set_whole(data_root):
    from evals.bias_audit import load_items

    scores = evaluate(FakeLM(gold_answers(data_root)), ["pubmedqa", "bias"], data_root=data_root, limit=1)
    assert scores["pubmedqa"]["n"] == 1
    assert scores["bias"]["n"] == sum(len(i["variants"]) for i in load_items())
