"""Fine-tuning data: hashes, the no-test-items rule, SQL normalisation and synthetic pairs verified
by execution, tool-call rows valid for the house, the Modelfile and the refused quantization level."""

from __future__ import annotations

import json
import os
import re
import sqlite3

import pytest

from training.task_data import (PROJECT_ROOT, TestItemInTrainingData, check_no_test_items, file_sha256, held_out_questions,
                                manifest_path, normalize_question, read_dataset, write_dataset)


def _row(question: str, answer: str = "SELECT 1") -> dict:
    return {"prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": f"Question: {question}\nSQL:"}],
            "completion": [{"role": "assistant", "content": answer}], "task": "sql", "source": "test", "question": question}


def test_home_commands_are_held_out():
    held = held_out_questions()
    assert held["turn on the living room light"].endswith("home_001")
    for name in ("home_commands.jsonl", "home_commands_fresh.jsonl", "home_commands_fresh3.jsonl",
                 "home_commands_fresh4.jsonl"):  # the first set and the blind sets
        texts = [json.loads(line)["text"] for line in (PROJECT_ROOT / "evals" / "data" / name).read_text().splitlines()
                 if line.strip()]
        assert len(texts) >= 80 and all(normalize_question(text) in held for text in texts), name


def test_training_rows_that_are_test_items_are_refused_with_the_fix():
    rows = [_row("how many rivers are there"), _row("  Turn ON the living-room light!")]
    with pytest.raises(TestItemInTrainingData) as caught:
        check_no_test_items(rows)
    message = str(caught.value)
    assert "row 1" in message and "home_001" in message
    assert "Remove them" in message and "training.sql_data" in message
    check_no_test_items(rows[:1])  # a question that is no test item passes


def test_write_dataset_refuses_test_items_and_writes_nothing(tmp_path):
    path = tmp_path / "leaky.jsonl"
    with pytest.raises(TestItemInTrainingData):
        write_dataset([_row("hello")], path)  # "hello" is home command home_106
    assert not path.exists()


def test_same_rows_give_the_same_recorded_hash(tmp_path):
    rows = [_row("how many rivers are there"), _row("what is the largest state", "SELECT state_name FROM state")]
    first = write_dataset(rows, tmp_path / "a.jsonl", seed=0)
    second = write_dataset([dict(reversed(list(r.items()))) for r in rows], tmp_path / "b.jsonl", seed=0)
    assert first["sha256"] == second["sha256"] == file_sha256(tmp_path / "a.jsonl")
    assert json.loads(manifest_path(tmp_path / "a.jsonl").read_text())["sha256"] == first["sha256"]
    changed = write_dataset(rows[:1], tmp_path / "c.jsonl")
    assert changed["sha256"] != first["sha256"] and changed["rows"] == 1
    assert read_dataset(tmp_path / "a.jsonl")[1]["completion"][0]["content"] == "SELECT state_name FROM state"


def test_a_file_edited_to_hold_a_test_item_is_refused_when_read(tmp_path):
    path = tmp_path / "edited.jsonl"
    write_dataset([_row("how many rivers are there")], path)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(_row("Tell me a joke")) + "\n")
    with pytest.raises(TestItemInTrainingData, match="home_"):
        read_dataset(path)


def test_gold_sql_is_normalised_to_the_schema_style():
    from training.sql_data import normalize_sql

    sql = 'SELECT COUNT( * ) FROM RIVER AS RIVERalias0 WHERE RIVERalias0.TRAVERSE = "ohio" ;'
    assert normalize_sql(sql) == "SELECT COUNT(*) FROM river AS river0 WHERE river0.traverse = 'ohio'"


def test_gold_sql_is_rewritten_in_the_grammars_style_and_returns_the_same_rows():
    """GeoQuery's aliased, comma-joined gold SQL becomes the alias-free `JOIN .. ON` SQL the
    graph's grammar lets the model write, with the same result; what needs aliases is left out."""
    from training.sql_data import grammar_style

    with sqlite3.connect(":memory:") as db:
        db.executescript("""
            CREATE TABLE state (state_name TEXT, capital TEXT, population INT);
            CREATE TABLE city (city_name TEXT, state_name TEXT, population INT);
            INSERT INTO state VALUES ('texas', 'austin', 9), ('ohio', 'columbus', 5);
            INSERT INTO city VALUES ('austin', 'texas', 3), ('dallas', 'texas', 4), ('columbus', 'ohio', 2);
        """)
        gold = ("SELECT city0.population FROM city AS city0 CROSS JOIN state AS state0 "
                "WHERE state0.capital = city0.city_name AND state0.state_name <> 'ohio'")
        rewritten = grammar_style(gold)
        assert rewritten == ("SELECT city.population FROM city JOIN state ON state.capital = city.city_name "
                             "WHERE state.state_name != 'ohio'")
        assert db.execute(rewritten).fetchall() == db.execute(gold).fetchall() == [(3,)]
        nested = "SELECT city0.city_name FROM city AS city0 WHERE city0.population = (SELECT MAX(city1.population) FROM city AS city1)"
        assert grammar_style(nested) == ("SELECT city.city_name FROM city WHERE city.population = "
                                         "(SELECT MAX(city.population) FROM city)")
    assert grammar_style("SELECT s0.state_name FROM state AS s0 CROSS JOIN state AS s1 WHERE s0.capital = s1.capital") is None
    assert grammar_style("SELECT d.n FROM (SELECT COUNT(1) AS n FROM city) AS d") is None
    assert grammar_style("SELECT LOWER(city0.city_name) FROM city AS city0") is None


@pytest.fixture()
def shop(tmp_path):
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT, city TEXT);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer(id),
                                 amount REAL, order_date TEXT);
            INSERT INTO customer VALUES (1, 'Ada', 'Paris'), (2, 'Bo', 'Oslo'), (3, 'Cy', 'Paris');
            INSERT INTO orders VALUES (1, 1, 10.5, '2024-03-01'), (2, 1, 20.0, '2024-04-02'), (3, 2, 7.0, '2025-01-05');
        """)
    return path


def test_synthetic_pairs_run_on_the_database_and_use_its_schema(shop):
    from training.sql_data import synthesize_pairs

    rows = synthesize_pairs(shop, per_template=50)
    assert len(rows) >= 10
    with sqlite3.connect(shop) as db:
        for row in rows:  # every kept pair runs and returns rows
            assert db.execute(row["completion"][0]["content"]).fetchone() is not None
    questions = {r["question"] for r in rows}
    assert "How many orders belong to the customer Ada?" in questions
    ada = next(r for r in rows if r["question"] == "How many orders belong to the customer Ada?")
    with sqlite3.connect(shop) as db:
        assert db.execute(ada["completion"][0]["content"]).fetchone()[0] == 2
    assert "CREATE TABLE orders" in ada["prompt"][1]["content"] and ada["prompt"][1]["content"].endswith("SQL:")


def test_synthetic_pairs_cover_anti_joins_and_months_and_are_reproducible(shop):
    from training.sql_data import synthesize_pairs

    rows = synthesize_pairs(shop, per_template=200)
    by_question = {r["question"]: r["completion"][0]["content"] for r in rows}
    with sqlite3.connect(shop) as db:
        never = db.execute(by_question["Which customer have no orders?"]).fetchall()
        assert never == [("Cy",)]                      # the customer who never ordered
        march = db.execute(by_question["How many orders have a order date in March 2024?"]).fetchone()
        assert march == (1,)
    assert [r["question"] for r in synthesize_pairs(shop, per_template=200)] == [r["question"] for r in rows]


def test_synthetic_sql_is_written_the_way_the_graphs_grammar_decodes(shop):
    """The text-to-SQL graph decodes under tools.sql.grammar: every column `table.column`, no table
    aliases, no functions but the aggregates, dates as ISO strings. A model trained on another style
    is pushed off it by the grammar, so the generated targets must be in that style."""
    import sqlglot
    from sqlglot import exp

    from training.sql_data import synthesize_pairs

    rows = synthesize_pairs(shop, per_template=200)
    for row in rows:
        tree = sqlglot.parse_one(row["completion"][0]["content"], read="sqlite")
        assert all(column.table for column in tree.find_all(exp.Column)), row
        assert not list(tree.find_all(exp.TableAlias)) and '"' not in tree.sql(), row
        functions = {type(f).__name__ for f in tree.find_all(exp.Func) if not isinstance(f, exp.Connector)}
        assert functions <= {"Count", "Sum", "Avg", "Min", "Max"}, row


def test_synthetic_pairs_leave_out_paraphrases_of_held_out_questions(shop):
    """A generated question whose SQL returns the rows a test question's gold SQL returns is a
    paraphrase of that test item: it must not reach the training file."""
    from training.sql_data import synthesize_pairs

    test_sql = "SELECT name FROM customer WHERE id NOT IN (SELECT customer_id FROM orders)"
    rows = synthesize_pairs(shop, per_template=200, held_out=[test_sql])
    with sqlite3.connect(shop) as db:
        held = sorted(db.execute(test_sql).fetchall())
        assert all(sorted(db.execute(r["completion"][0]["content"]).fetchall()) != held for r in rows)
    assert "Which customer have no orders?" not in {r["question"] for r in rows}
    assert len(rows) > 10


def test_tool_call_rows_are_valid_calls_for_the_house(tmp_path):
    from tools.home.house import default_house, validate_service_call
    from tools.home.tools import SERVICE_BY_TOOL_NAME
    from training.tool_data import build_tool_dataset

    info = build_tool_dataset(tmp_path / "tools.jsonl", per_call=2)
    rows = read_dataset(tmp_path / "tools.jsonl")
    assert info["rows"] == len(rows) and info["dropped_test_items"] > 0
    entities = {e.entity_id: e for e in default_house()}
    kinds = {r["source"] for r in rows}
    assert {"home:call", "home:multi", "home:no_call", "home:refusal"} <= kinds
    system_prompts = {r["prompt"][0]["content"] for r in rows}
    assert len(system_prompts) == 1  # one shared prompt: what `training.sft --shared-prefix` relies on
    for row in rows:
        reply = json.loads(row["completion"][0]["content"])
        assert "You can call these tools" in row["prompt"][0]["content"]
        if row["source"] in ("home:call", "home:multi"):
            calls = reply["tool_calls"]
            assert len(calls) == (1 if row["source"] == "home:call" else 2)
            for call in calls:
                if call["name"] in SERVICE_BY_TOOL_NAME:
                    service = SERVICE_BY_TOOL_NAME[call["name"]]
                    validate_service_call(service.domain, service.name, dict(call["arguments"]), entities)
        else:
            assert set(reply) == {"answer"}
    from training.tool_data import home_toolset

    called = {c["name"] for r in rows if "tool_calls" in r["completion"][0]["content"]
              for c in json.loads(r["completion"][0]["content"])["tool_calls"]}
    assert called == {t.name for t in home_toolset()[1]}  # every tool, one-device tools (schema `const`) too
    arithmetic = [r for r in rows if r["source"] == "home:no_call" and len(re.findall(r"\d+", r["question"])) == 2]
    assert arithmetic
    for row in arithmetic:  # generated general questions carry the right answer
        a, b = map(int, re.findall(r"\d+", row["question"]))
        assert json.loads(row["completion"][0]["content"])["answer"] == f"{a + b}."
    refusals = {r["question"].lower(): json.loads(r["completion"][0]["content"])["answer"]
                for r in rows if r["source"] == "home:refusal"}
    bathroom = [q for q in refusals if "bathroom" in q and ("light" in q or "lamp" in q)]
    assert bathroom and "living room" in refusals[bathroom[0]]  # a kind in an area without it: where that kind is
    missing = [q for q, answer in refusals.items() if answer.startswith(("There is no", "There are no"))]
    assert not [q for q in missing if re.search(r"\b(bedroom|kitchen|living room) (light|lamp)s?\b", q)]  # those exist


def test_modelfile_has_the_chatml_template_and_stop_tokens(tmp_path):
    from training.export import write_modelfile

    gguf = tmp_path / "sql-main-Q8_0.gguf"
    gguf.write_bytes(b"GGUF")
    text = write_modelfile(gguf).read_text()
    assert text.startswith("FROM ./sql-main-Q8_0.gguf\n")
    assert "<|im_start|>user\n{{ .Prompt }}<|im_end|>" in text and "<|im_start|>assistant\n" in text
    assert 'PARAMETER stop "<|im_end|>"' in text and "PARAMETER temperature 0" in text


def test_export_refuses_q4_1_for_a_finetune_of_the_bundled_model(tmp_path):
    from training.export import QuantizationLosesFinetune, export_run

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"base_folder": "/x/finetune/base/smollm2-135m-instruct", "settings": {}}))
    with pytest.raises(QuantizationLosesFinetune, match="Q8_0"):
        export_run(run, ("Q8_0", "Q4_1"))
    assert not (run / "merged").exists()  # refused before any work


def test_split_keeps_validation_rows_out_of_training():
    from training.sft import split_rows

    rows = [{"i": i} for i in range(40)]
    train, val = split_rows(rows, 0.1, 48, seed=3)
    assert len(val) == 4 and not {r["i"] for r in train} & {r["i"] for r in val}
    assert split_rows(rows, 0.1, 48, seed=3) == (train, val)


def test_a_gpu_asked_for_where_there_is_none_is_refused_with_the_fix(monkeypatch):
    import torch

    from training.sft import training_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device("auto") == "cpu" and training_device("cpu") == "cpu"
    with pytest.raises(RuntimeError, match="--device cpu"):
        training_device("cuda")
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        training_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training_device("auto") == "cuda" and training_device("cpu") == "cpu"


@pytest.mark.parametrize("command", ["training.sft", "training.dpo", "training.reward_model"])
def test_every_trainer_refuses_a_missing_gpu_in_one_line_naming_the_fix(command, tmp_path):
    """sft, DPO and the reward model share `--device`; a refused input ends with `error: ...` and
    exit status 2, not a traceback."""
    import subprocess
    import sys

    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"prompt": [{"role": "user", "content": "hi"}],
                                "completion": [{"role": "assistant", "content": "hello"}]}) + "\n")
    extra = ["--data", str(data)] if command == "training.sft" else []
    done = subprocess.run([sys.executable, "-m", command, "--device", "cuda", "--max-steps", "1", *extra],
                          capture_output=True, text=True, timeout=240, env={**os.environ, "HEARTH_TRACEBACK": ""})
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: --device cuda, but torch sees no CUDA GPU" in done.stderr and "pass --device cpu" in done.stderr
    assert "Traceback" not in done.stderr


def test_bf16_follows_the_device_unless_asked(monkeypatch):
    import torch

    from training import sft
    from training.sft import device_and_bf16

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    monkeypatch.setattr(sft, "bf16_is_fast", lambda: False)
    assert device_and_bf16("auto") == ("cuda", True)
    assert device_and_bf16("cpu") == ("cpu", False)
    assert device_and_bf16("auto", bf16=False) == ("cuda", False)


def test_grounded_rows_use_the_rag_prompt_cite_their_support_and_skip_pubmedqa_test_questions(tmp_path):
    from models.settings import shared_data
    from rag.answering import SYSTEM_PROMPT
    from training.grounded_data import UNCOVERED_ANSWER, build_grounded_dataset

    info = build_grounded_dataset(tmp_path / "grounded.jsonl", xquad=False, uncovered_every=5)
    rows = [json.loads(line) for line in (tmp_path / "grounded.jsonl").read_text().split("\n") if line]
    assert info["rows"] == len(rows) == 600  # the 500 items outside PubMedQA's test part + one uncovered row per 5
    test_ids = set(json.loads((shared_data() / "pubmedqa_pqal" / "test_ground_truth.json").read_text()))
    assert not {r["id"].removeprefix("pubmedqa-").removesuffix("-uncovered") for r in rows} & test_ids
    covered = [r for r in rows if not r["source"].endswith(":uncovered")]
    for row in covered[:50]:
        assert row["prompt"][0]["content"] == SYSTEM_PROMPT
        number = int(row["completion"][0]["content"].rsplit("[", 1)[1].rstrip("]"))
        facts = [line for line in row["prompt"][1]["content"].splitlines() if line.startswith("[")]
        assert 1 <= number <= len(facts)
    uncovered = [r for r in rows if r["source"].endswith(":uncovered")]
    assert uncovered and all(r["completion"][0]["content"] == UNCOVERED_ANSWER for r in uncovered)


def test_pubmedqa_test_and_handbook_questions_are_refused_in_training_data():
    from models.settings import shared_data

    items = json.loads((shared_data() / "pubmedqa_pqal" / "ori_pqal.json").read_text())
    test_id = json.loads((shared_data() / "pubmedqa_pqal" / "test_ground_truth.json").read_text())
    test_id = next(iter(test_id))
    with pytest.raises(TestItemInTrainingData, match="pubmedqa test"):
        check_no_test_items([{"question": items[test_id]["QUESTION"]}])
    with pytest.raises(TestItemInTrainingData, match="handbook_qa"):
        check_no_test_items([{"question": "How many days of annual leave do I get?"}])
    with pytest.raises(TestItemInTrainingData, match="sql_business"):
        check_no_test_items([{"question": "How many orders were placed in March 2024?"}])


def test_xquad_grounded_rows_cite_the_answer_sentence_and_never_hold_a_test_article_question(tmp_path):
    from evals.finetune import grounded_test_items
    from training.grounded_data import UNCOVERED_ANSWER, build_grounded_dataset

    info = build_grounded_dataset(tmp_path / "grounded.jsonl", pubmedqa=False, uncovered_every=0)
    rows = [json.loads(line) for line in (tmp_path / "grounded.jsonl").read_text().split("\n") if line]
    assert info["sources"]["xquad"] > 500 and info["sources"]["xquad:uncovered"] > 80
    test = grounded_test_items()
    assert {r["question"] for r in rows}.isdisjoint({i["question"] for i in test})
    assert sum(i["cite"] is None for i in test) > 30 and sum(i["cite"] is not None for i in test) > 90
    for row in rows:
        reply = row["completion"][0]["content"]
        facts = [line.split("] ", 1)[1] for line in row["prompt"][1]["content"].splitlines() if line.startswith("[")]
        if row["source"] == "xquad:uncovered":  # the answer's sentence taken out: nothing to cite
            assert reply == UNCOVERED_ANSWER and len(facts) >= 2
        else:
            span, number = reply.rsplit(" [", 1)
            assert span.lower() in facts[int(number.rstrip("]")) - 1].lower()
    with pytest.raises(TestItemInTrainingData, match="xquad test"):
        check_no_test_items([{"question": test[0]["question"]}])
    with pytest.raises(TestItemInTrainingData, match="abstention"):
        check_no_test_items([{"question": "How much is the wellbeing allowance per year?"}])


def test_grounded_suite_scores_the_cited_span_and_the_no_model_row_never_abstains():
    from evals.finetune import grounded_no_model, grounded_score

    item = {"id": "q", "answer": "1348", "cite": 3}
    assert grounded_score(item, "In 1348 [3].")["right"]
    assert not grounded_score(item, "In 1348 [1].")["right"]          # the wrong fact cited
    assert not grounded_score(item, "In 13480 [3].")["right"]         # numbers compared whole
    assert not grounded_score(item, "The facts do not answer that question. 1348 [3]")["right"]
    quoted = grounded_no_model(None)
    assert quoted["abstained_uncovered"] == 0 and quoted["stated_and_cited"] > 0.5


def test_grounded_data_refuses_the_handbook_as_documents(tmp_path):
    from models.settings import PROJECT_ROOT
    from training.grounded_data import build_grounded_dataset

    with pytest.raises(ValueError, match="handbook QA test set"):
        build_grounded_dataset(tmp_path / "g.jsonl", pubmedqa=False, documents=PROJECT_ROOT / "data" / "handbook")
