"""Lab-assistant graph logic with a scripted fake chat model; lab tools' validation; request parser."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from dataclasses import dataclass

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.memory import InMemorySaver

import models
import training.lab_tools as labs
from graphs.lab_assistant.context import Context
from graphs.lab_assistant.graph import builder
from training.lab_requests import parse_request
from tools import jobs

DEMO = "train a 2,000-token BPE on the legal opinions and compare it with GPT-4's tokenizer"
SMALL_TEXT = ("The court held that the statute applies. The court of appeals reversed the judgment. " * 30)


class ScriptedFakeChatModel(BaseChatModel):
    """Replies with scripted tool calls in order; records what was bound and asked."""

    replies: list = []
    bound: list = []
    prompts: list = []

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def bind_tools(self, tools, *, tool_choice=None, **kwargs):
        self.bound.append(([t.name for t in tools], tool_choice))
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.prompts.append(messages)
        reply = self.replies.pop(0)
        message = reply if isinstance(reply, AIMessage) else AIMessage(
            content="", tool_calls=[{"name": reply[0], "args": reply[1], "id": f"call_{len(self.prompts)}"}])
        return ChatResult(generations=[ChatGeneration(message=message)])


@pytest.fixture
def fake_model(monkeypatch):
    llm = ScriptedFakeChatModel(replies=[], bound=[], prompts=[])
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: llm)
    return llm


@dataclass
class FakeStats:
    name: str
    tokens: int
    words: int
    tokens_per_word: float
    chars_per_token: float
    unknown_tokens: int = 0
    round_trip_exact: bool = True


@pytest.fixture
def small_corpus(monkeypatch):
    """Corpora and the tokenizer comparison replaced by small, fast stand-ins."""
    import training.corpora
    import training.tokenizers.compare as compare

    calls = []

    def fake_compare(text, names=None, *, bpe_path=None):
        calls.append({"text": text, "names": names, "bpe_path": bpe_path})
        return [FakeStats(n, len(text) // (3 if n == "ours-bpe" else 4), len(text.split()), 1.0, 3.0 if n == "ours-bpe" else 4.0)
                for n in names]

    monkeypatch.setattr(training.corpora, "load_corpus", lambda name, max_chars=None, **_: SMALL_TEXT[:max_chars])
    monkeypatch.setattr(compare, "compare_tokenizers", fake_compare)
    return calls


def run(graph, text, context, thread="t"):
    return graph.invoke({"messages": [("human", text)]}, {"configurable": {"thread_id": thread}}, context=context)


def test_parser_settles_the_common_forms():
    plan = parse_request(DEMO)
    assert [(s.tool, s.args, s.missing) for s in plan.steps] == [
        ("train_bpe_tokenizer", {"vocab_size": 2000, "corpus": "legal"}, []),
        ("compare_tokenizers", {"names": ["ours-bpe", "cl100k_base"], "text_or_corpus": "legal"}, [])]
    assert parse_request("Build a tokenizer, vocab size of 4k, on Alice; compare with GPT-4o").steps[0].args == \
        {"vocab_size": 4000, "corpus": "alice"}
    assert parse_request("compare our BPE against GPT-4o on pubmed").steps[0].args["names"] == ["ours-bpe", "o200k_base"]
    assert parse_request("train a trigram model on the German XQuAD").steps[0].args == {"corpus": "xquad_de", "order": 3}
    assert parse_request("make a BPE tokenizer").steps[0].missing == ["corpus", "vocab_size"]
    assert parse_request("what's up").steps == []


def test_demo_request_runs_without_the_model_and_summarises_numbers(fake_model, small_corpus):
    graph = builder.compile(checkpointer=InMemorySaver())
    state = run(graph, "train a 300-token BPE on the legal opinions and compare it with GPT-4's tokenizer",
                Context(max_chars=2000, poll_seconds=0.02, wait_seconds=20))
    assert fake_model.prompts == []                      # the parser settled everything
    bpe, comparison = state["results"]
    assert bpe["ok"] and bpe["result"]["vocab_size"] == 300 and bpe["result"]["training_chars"] == 2000
    assert small_corpus[0]["bpe_path"] == bpe["result"]["tokenizer_path"]       # the trained model was compared
    assert small_corpus[0]["names"] == ["ours-bpe", "cl100k_base"]
    answer = state["messages"][-1].content
    assert "Trained a 300-token byte-level BPE on legal" in answer
    assert "Our BPE: 3.00 chars/token vs GPT-4 (cl100k_base): 4.00" in answer
    calls = [m.tool_calls[0]["name"] for m in state["messages"] if getattr(m, "tool_calls", None)]
    assert calls == ["train_bpe_tokenizer", "compare_tokenizers"]


def test_model_fills_only_what_the_parser_could_not_settle(fake_model, small_corpus):
    fake_model.replies = [("train_bpe_tokenizer", {"corpus": "alice", "vocab_size": 99999})]
    state = run(builder.compile(checkpointer=InMemorySaver()), "make me a 300-token BPE please",
                Context(max_chars=1500, poll_seconds=0.02))
    assert fake_model.bound == [(["train_bpe_tokenizer"], "train_bpe_tokenizer")]   # constrained to the one tool
    result = state["results"][0]
    assert result["args"] == {"corpus": "alice", "vocab_size": 300, "max_chars": 1500}   # parser's 300 wins
    assert result["ok"] and "corpus chosen by the model: corpus='alice'" in state["messages"][-1].content


def test_out_of_range_request_is_refused_with_the_fix(fake_model, small_corpus):
    state = run(builder.compile(checkpointer=InMemorySaver()), "train a 100-token BPE on legal", Context())
    answer = state["messages"][-1].content
    assert "vocab_size=100 is out of range: pass 257..32768" in answer and "e.g. vocab_size=2000" in answer
    assert jobs.list_jobs() == [] or all(j["params"].get("vocab_size") != 100 for j in jobs.list_jobs())


def test_chit_chat_gets_the_capabilities_without_a_model_call(fake_model):
    state = run(builder.compile(checkpointer=InMemorySaver()), "hello there!", Context())
    assert fake_model.prompts == [] and "train a 2,000-token BPE" in state["messages"][-1].content


def test_model_proposal_is_checked_against_the_request(fake_model, small_corpus):
    fake_model.replies = [("train_ngram_model", {"corpus": "pubmedqa", "order": 2})]
    state = run(builder.compile(checkpointer=InMemorySaver()), "how predictable is the alice text, character by character?",
                Context(max_chars=3000))
    result = state["results"][0]
    assert fake_model.bound[0][1] == "auto" and "job_status" not in fake_model.bound[0][0]
    assert result["args"]["corpus"] == "alice"             # the corpus the request names beats the model's guess
    assert result["ok"] and result["result"]["held_out_perplexity"] > 1


def test_long_job_answers_with_its_id_and_a_later_turn_reports_it(fake_model, small_corpus, monkeypatch):
    release = threading.Event()
    real = labs.run_bpe_training

    def slow_training(progress, **params):
        progress(0.5, "halfway")
        release.wait(10)
        return real(progress, **params)

    monkeypatch.setattr(labs, "run_bpe_training", slow_training)
    graph, context = builder.compile(checkpointer=InMemorySaver()), Context(max_chars=1500, poll_seconds=0.02, wait_seconds=0.1)
    first = run(graph, "train a 300-token BPE on alice", context, thread="long")
    job_id = first["waiting_job"]
    assert job_id.startswith("train_bpe-") and f"Job {job_id} is still running (50%: halfway)" in first["messages"][-1].content
    release.set()
    jobs.wait(job_id, timeout=10)
    second = run(graph, "status?", context, thread="long")
    assert second["waiting_job"] == "" and "Trained a 300-token byte-level BPE on alice" in second["messages"][-1].content


def test_lab_tools_validate_arguments_with_clear_errors():
    assert "Unknown corpus 'wiki'" in labs.train_bpe_tokenizer.invoke({"corpus": "wiki", "vocab_size": 2000})
    assert "pass 1..8" in labs.train_ngram_model.invoke({"corpus": "alice", "order": 12})
    assert "divisible by 4" in labs.pretrain_minigpt.invoke({"corpus": "alice", "n_embd": 30})
    assert "No job 'nope'" in labs.job_status.invoke({"job_id": "nope"})
    missing = str(labs.lab_home() / "tokenizers" / "nope.model")
    assert "No tokenizer at" in labs.compare_tokenizers.invoke({"text_or_corpus": "some text", "tokenizer_path": missing})
    assert "outside the folders" in labs.compare_tokenizers.invoke({"text_or_corpus": "x", "tokenizer_path": "/nope.model"})
    schema = labs.train_bpe_tokenizer.tool_call_schema.model_json_schema()
    assert schema["properties"]["corpus"]["enum"] == ["legal", "alice", "xquad_en", "xquad_de", "pubmedqa"]
    assert {t.name for t in labs.LAB_TOOLS} == {"train_bpe_tokenizer", "compare_tokenizers", "train_ngram_model",
                                                 "pretrain_minigpt", "evaluate_perplexity", "sample_text", "train_reranker",
                                                 "finetune_embeddings", "finetune_model", "export_model",
                                                 "quantize_model", "evaluate_model", "train_reward_model", "run_dpo",
                                                 "merge_models", "job_status"}


def test_model_lifecycle_tools_refuse_bad_arguments_with_the_fix(tmp_path, monkeypatch):
    import training.lab_tools as labs

    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    assert "pass 0.5..120" in labs.finetune_model.invoke({"max_minutes": 500})
    assert "No file at" in labs.finetune_model.invoke({"database": str(tmp_path / "missing.sqlite")})
    assert "No folder at" in labs.finetune_model.invoke({"task": "grounded", "documents": str(tmp_path / "nope")})
    assert "Input should be 'sql', 'tools' or 'grounded'" in labs.finetune_model.invoke({"task": "poetry"})
    assert "outside the folders" in labs.export_model.invoke({"run": "/etc"})
    not_a_run = tmp_path / "finetune" / "runs" / "empty"
    not_a_run.mkdir(parents=True)
    assert "not a fine-tuning run folder" in labs.export_model.invoke({"run": str(not_a_run)})
    assert "Input should be" in labs.quantize_model.invoke({"run": str(not_a_run), "level": "Q4_1"})
    assert "pass 1..200" in labs.evaluate_model.invoke({"model": "local", "limit": 0})
    assert "pass 10..462" in labs.train_reward_model.invoke({"test_limit": 5000})
    assert "outside the folders" in labs.run_dpo.invoke({"reward_model": "/etc"})
    assert "pass reward_model" in labs.run_dpo.invoke({"pairs": "on-policy"})
    assert "Input should be" in labs.train_reward_model.invoke({"method": "bigger"})
    assert "at least two models" in labs.merge_models.invoke({"method": "ties", "models": [str(not_a_run)]})
    assert "Input should be" in labs.merge_models.invoke({"method": "average", "models": [str(not_a_run)] * 2})


def test_parser_docstring_examples():
    import doctest

    import training.lab_requests

    result = doctest.testmod(training.lab_requests)
    assert result.attempted > 0 and result.failed == 0


def test_pretrain_then_sample_and_evaluate_through_job_ids(fake_model, small_corpus):
    state = run(builder.compile(checkpointer=InMemorySaver()), "pretrain a mini-GPT with alibi for 3 steps on legal and sample from it",
                Context(max_chars=2000, poll_seconds=0.05, wait_seconds=120))   # first optimizer imports torch._dynamo
    pretrain, sample = state["results"]
    assert pretrain["ok"] and pretrain["result"]["position"] == "alibi" and pretrain["result"]["step"] == 3
    assert sample["ok"] and sample["args"]["checkpoint"] == pretrain["result"]["checkpoint"]
    assert len(sample["result"]["text"]) == 200
    job_id = pretrain["result"]["job_id"]
    evaluated = labs.evaluate_perplexity.invoke({"checkpoint": job_id, "context_length": 32})
    assert evaluated["trained_on"] == "legal" and 1 < evaluated["perplexity"] < 100
    assert "Pretrained mini-GPT (alibi" in state["messages"][-1].content


@pytest.mark.parametrize("task, source", [("grounded", "xquad"), ("tools", "home")])
def test_finetune_model_builds_each_tasks_data_and_trains_with_its_measured_settings(tmp_path, monkeypatch, task, source):
    """The trainer is replaced by a recorder here (the few-step SFT itself is tested in the integration suite)."""
    import training.lab_tools as labs
    import training.sft

    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    seen = {}

    def recording_trainer(settings, progress=None):
        seen["settings"] = settings
        return {"run_folder": str(tmp_path / "run"), "metrics": {}}

    monkeypatch.setattr(training.sft, "run_sft", recording_trainer)
    result = labs.run_finetune(lambda *a: None, task=task, name=task)
    rows = [json.loads(line) for line in Path(result["data"]).read_text().splitlines() if line]
    assert rows and all(r["source"].startswith(source) for r in rows)
    settings = seen["settings"]
    assert settings.data == result["data"] and settings.method == "full"
    assert settings.shared_prefix is (task == "tools") and settings.gradient_checkpointing is (task != "grounded")
