"""A walk through the README: every command it shows is run here (or by the named test that runs
it), offline, with the output checked for the fact the README promises and the exit code exact.

    .venv/bin/python -m pytest tests/integration/test_readme_walk.py -q

A README line with no entry in WALK fails `test_every_readme_command_is_walked`: add the entry
(what to run, what the output must hold) in the same change as the line.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from servers import ROOT, python

README = ROOT / "README.md"
MODULE = re.compile(r"^(apps|evals|training|rag|graphs|tools)\.[a-z_.]+")


@dataclass(frozen=True)
class Run:
    """Run the command (or `argv`, a quicker form of the same line) and check its output."""

    argv: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()          # regexes the output (stdout + stderr) must match
    code: int = 0
    timeout: int = 300
    env: dict = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Covered:
    """Run by another test (a server, a Streamlit page, a long benchmark): name the test."""

    by: str                                # "tests/integration/test_x.py::test_name"


def readme_commands(text: str) -> list[str]:
    """The commands a reader is shown: module commands in the tables' first column and the lines
    of fenced shell blocks that run the project's Python.

    >>> readme_commands("| `apps.ask \\"hi\\"` / `apps.sql` | x |\\n```bash\\n./dev py -m apps.doctor\\n```")
    ['apps.ask "hi"', 'apps.sql', './dev py -m apps.doctor']
    """
    commands: list[str] = []
    in_block = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            if re.search(r"(^|\s)(\./dev py|\.venv/bin/python|\.venv/bin/langgraph|python -m)\b", line):
                commands.append(line.split("  #")[0].strip())
            continue
        if line.startswith("|") and not line.startswith("|---"):
            first = line.split("|")[1]
            for snippet in re.findall(r"`([^`]+)`", first):
                bare = re.sub(r"^(\./dev py |\.venv/bin/python |python )?-m ", "", snippet)
                if MODULE.match(bare) or snippet.startswith(".venv/bin/"):
                    commands.append(snippet.strip())
    return commands


def command_argv(command: str) -> tuple[list[str], dict[str, str]]:
    """The argv and environment a README line runs with: leading VAR=value words become the
    environment, `./dev py` and a bare module name become the venv's `python -m`.

    >>> command_argv('HEARTH_X="a b" ./dev py -m apps.ask "hi there"')[1]
    {'HEARTH_X': 'a b'}
    """
    import shlex

    words = shlex.split(command)
    env = {}
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if words[:2] == ["./dev", "py"] or words[:2] == ["python", "-m"] or words[:1] == ["python"]:
        words = words[2:] if words[0] == "./dev" else words[1:]
    if words and MODULE.match(words[0]):
        words = ["-m", *words]
    if words and words[0] == "-m":
        return python(*words), env
    if words and words[0].startswith(".venv/bin/"):
        words[0] = str(ROOT / words[0])
    return words, env


ABSTENTION_EXPECT = (r"\| rag \| rules \|",)
CODE_EVAL_EXPECT = (r"canonical solutions \(no model\) \| 1\.000", r"\| local \(n=1")
JUDGE_EXPECT = (r"local \(position-swapped\) \| 2 \|",)
SQL_DATA_EXPECT = (r"sha256", r'"dropped_test_items": \d+')
TOOL_DATA_EXPECT = (r"sha256", r'"dropped_test_items": \d+')
QUANT_EXPECT = (r"\| bundled \| Q8_0 \| [\d.]+ \|", r"mean KL vs F16")

IT = "tests/integration/"
UNIT = "tests/unit/"

WALK: dict[str, Run | Covered] = {
    # RAG
    'apps.ask "How many days of annual leave do I get?"':
        Run(expect=(r"\b25 days\b", r"annual-leave\.md")),
    'apps.ask --mode rag_conversational --thread me "And how many can I carry over?"':
        Run(expect=(r"annual-leave\.md",)),
    'apps.ask --mode rag_agentic "Plan a 3-day trip to Lisbon"':
        Covered(IT + "test_rag_variants_live.py::test_lisbon_demo_plans_three_days_citing_the_guides"),
    'apps.ask --mode rag_graph "Recommend a thriller starring an actor who also worked with Christopher Nolan"':
        Covered(IT + "test_rag_graph_live.py::test_demo_question_is_answered_correctly_with_path_and_citations"),
    "rag.graph_ingest data/movies/films":
        Run(expect=(r"\d+ nodes, \d+ relationships", r"\d+ added")),
    "apps.search": Covered(IT + "test_search_app.py::test_search_page_shows_scored_hits_with_highlights"),
    "./dev py -m training.query_distill --corpus data/handbook --out out/query_encoders/handbook":
        Covered(IT + "test_query_encoder_live.py::test_static_queries_find_what_minilm_finds_at_a_fraction_of_the_cost"),
    'HEARTH_EMBEDDINGS="local?query_encoder=out/query_encoders/handbook" ./dev py -m apps.ask --mode rag_hybrid '
    '"How many days of annual leave do I get?"':
        Covered(IT + "test_query_encoder_live.py::test_static_queries_find_what_minilm_finds_at_a_fraction_of_the_cost"),
    # Agents and tools
    "apps.home": Covered(IT + "test_home_app.py::test_streamlit_page_confirms_before_unlocking"),
    'apps.home --ask "make it warmer in here"':
        Run(expect=(r"Raised the thermostat from 20 °C to 21 °C",)),
    "apps.home_hub --port 8123": Covered(IT + "test_home_app.py::test_cli_warmer_raises_the_set_point_on_the_hub"),
    "apps.agent \"What's the weather in Lisbon?\"": Run(expect=(r"Lisbon", r"19\s?°C")),
    "apps.weather_service": Covered(IT + "test_agent_cli.py::test_weather_question_is_answered_through_the_weather_tool"),
    'apps.analysts "Daily report for ACME and CLDX on 2026-11-27"':
        Covered(IT + "test_analysts_live.py::test_langgraph_team_on_the_embedded_model"),
    "apps.sql": Covered(IT + "test_sql_apps.py::test_streamlit_app_starts_and_serves_the_page"),
    'apps.sql_ask "How many customers do we have in each region?" --db URL':
        Run(argv=("-m", "apps.sql_ask", "How many customers do we have in each region?"),
            # the README's honest promise on the bundled model: refused attempts, exit 1, never a wrong table
            code=1, expect=(r"Refused: the adapted example does not fit the question", r"no query ran successfully")),
    # Labs
    'apps.lab "train a 2,000-token BPE on the legal opinions and compare it with GPT-4\'s tokenizer"':
        Covered(IT + "test_lab_assistant_live.py::test_demo_request_end_to_end_on_the_embedded_model"),
    "apps.tokenizers": Covered(IT + "test_tokenizers_lab.py::test_dashboard_page_tokenizes_side_by_side"),
    "training.tokenizers.bpe --data legal --vocab-size 2000":
        Covered(IT + "test_tokenizers_lab.py::test_bpe_cli_trains_and_saves_a_loadable_model"),
    "training.ngram --order 4 --data alice":
        Run(expect=(r"4-gram on alice", r"perplexity train [\d.]+ / held-out [\d.]+")),
    "training.minigpt.train --data alice --steps 300 [--resume]":
        Run(argv=("-m", "training.minigpt.train", "--data", "alice", "--steps", "3", "--out-dir", "{tmp}/minigpt"),
            expect=(r'"steps_this_call": 3',)),
    "training.minigpt.study": Covered(UNIT + "test_minigpt.py::test_study_writes_json_markdown_and_plot_for_each_position"),
    "training.embedding_adapt --corpus data/handbook --out out/embeddings/handbook":
        Run(argv=("-m", "training.embedding_adapt", "--corpus", "data/handbook", "--out", "{tmp}/adapted"),
            expect=(r"adapted",), timeout=900),
    "training.injection_classifier":
        Covered(IT + "test_injection_classifier_live.py::"
                "test_trained_folder_is_loaded_by_the_guard_and_catches_what_the_rules_miss"),
    "training.answerability":
        Covered(IT + "test_retrieval_training.py::"
                "test_answerability_checker_trains_on_a_squad_slice_and_serves_the_trained_mode"),
    "training.reranker --data ../shared/data/cranfield --out out/rerankers/cranfield":
        Covered(IT + "test_retrieval_training.py::test_reranker_trains_saves_and_serves_through_the_reranker_protocol"),
    "training.retrieval_pairs --corpus ../shared/data/cranfield/corpus.jsonl --out out/pairs/cranfield-pretraining.jsonl":
        Covered(UNIT + "test_retrieval_pairs.py::test_pretraining_pairs_use_no_held_out_article_and_strip_titles_from_bodies"),
    "evals.retrieval_domains --reranker fusion:out/rankers/cranfield":
        Covered(IT + "test_retrieval_training.py::test_fusion_ranker_trains_and_serves_through_the_knowledge_base"),
    "training.fusion_ranker --data ../shared/data/cranfield --out out/rankers/cranfield":
        Covered(IT + "test_retrieval_training.py::test_fusion_ranker_trains_and_serves_through_the_knowledge_base"),
    "training.embedding_finetune --data ../shared/data/cranfield --out out/embeddings/cranfield-tuned":
        Covered(IT + "test_retrieval_training.py::"
                "test_finetuned_encoder_refuses_an_index_made_by_another_model_until_reindexed"),
    "training.query_distill --corpus data/handbook --out out/query_encoders/handbook":
        Covered(IT + "test_query_encoder_live.py::test_static_queries_find_what_minilm_finds_at_a_fraction_of_the_cost"),
    # Serving, checks and benchmarks
    "apps.serve --port 8008": Covered(IT + "test_serve_http.py::test_cli_generates_a_key_and_shows_it_once"),
    "apps.keys create team-a --rpm 60 --tpm 20000 --daily-tokens 200000":
        Run(expect=(r"Created key \w+ \(team-a\)", r"not shown again")),
    ".venv/bin/python -m pytest -m security": Covered(UNIT + "test_requirements_lock.py::"
                                                       "test_every_locked_package_is_pinned_and_hashed"),
    "apps.doctor": Covered(IT + "test_doctor.py::test_every_check_passes_with_the_defaults"),
    "evals.bench_llm": Covered(IT + "test_bench_llm.py::test_bench_llm_quick"),
    "evals.tool_calls --requests 10":
        Run(argv=("-m", "evals.tool_calls", "--requests", "1", "--out", "{tmp}/tool_calls"), expect=(r"constrained",),
            timeout=900),
    "evals.retrieval --data ../shared/data/cranfield --split dev":
        Covered(IT + "test_retrieval_bench.py::test_retrieval_benchmark_writes_json_and_markdown"),
    "evals.handbook_qa": Run(argv=("-m", "evals.handbook_qa", "--part", "tuning", "--out", "{tmp}/handbook_qa"),
                             expect=(r"Handbook QA, `tuning` part", r"\| -1 \| \d/8 \|")),
    "evals.function_calling --data ../shared/data/bfcl":
        Run(argv=("-m", "evals.function_calling", "--data", "{shared}/bfcl", "--limit", "1", "--skip-home",
                  "--out", "{tmp}/function_calling"), expect=(r"simple_python \| unconstrained",), timeout=900),
    "evals.text2sql --data ../shared/data/geoquery --split dev":
        Covered(IT + "test_text2sql_live.py::test_geoquery_dev_items_with_the_train_split_as_examples"),
    "evals.ragas_rag --data ../shared/data/xquad":
        Covered(IT + "test_ragas_live.py::test_ragas_run_scores_the_rag_graph_and_counts_judge_failures"),
    "evals.guardrails --data ../shared/data/xstest":
        Run(argv=("-m", "evals.guardrails", "--data", "{shared}/xstest", "--limit", "5", "--out", "{tmp}/guardrails"),
            expect=(r"frozen",)),
    "evals.reasoning": Run(argv=("-m", "evals.reasoning", "--limit", "2", "--out", "{tmp}/reasoning"),
                           expect=(r"cot takes [\d.]+x as long",)),
    "evals.tokenizers --data legal":
        Covered(IT + "test_tokenizers_lab.py::test_benchmark_quick_run_meets_the_shared_targets"),
    ".venv/bin/langgraph dev --no-browser": Covered(IT + "test_langgraph_dev.py::test_rag_graph_runs_through_the_dev_server"),
    'apps.serve --ab "B=prompt:prompts/b.txt@20%" --ab-pin alice=B':
        Covered(IT + "test_serve_ab_http.py::test_ab_over_http_with_the_bundled_model"),
    "evals.ab --log .hearth/ab/ab_log.jsonl": Covered(UNIT + "test_serve_ab.py::test_feedback_round_trip_and_evals_ab"),
    "evals.load_test --users 4 --seconds 60":
        Run(argv=("-m", "evals.load_test", "--users", "1", "--seconds", "5", "--max-tokens", "8",
                  "--out", "{tmp}/load_test"), expect=(r"apps\.serve", r"llama_cpp\.server"), timeout=600),
    "apps.serve": Covered(IT + "test_serve_http.py::test_cli_generates_a_key_and_shows_it_once"),
    "evals.gateway_overhead --requests 2000":
        Run(argv=("-m", "evals.gateway_overhead", "--requests", "10", "--warmup", "2", "--configs", "bare,all",
                  "--out", "{tmp}/gateway_overhead"), expect=(r"added p50", r"\| all \|"), timeout=900),
    "evals.soak --duration 600": Covered(IT + "test_soak.py::test_a_short_soak_passes_and_writes_its_curve"),
    "evals.abstention": Run(argv=("-m", "evals.abstention", "--limit", "2", "--graphs", "rag", "--out", "{tmp}/abstention"),
                            expect=ABSTENTION_EXPECT),
    # Evaluation suite
    "evals.harness --model local --tasks gsm8k,gsm8k_cot,pubmedqa --limit 20":
        Covered(IT + "test_harness_live.py::test_served_logprobs_match_the_direct_backend"),
    "evals.harness --model local --tasks all --limit 20":
        Covered(IT + "test_harness_live.py::test_project_benchmarks_run_as_harness_tasks_through_the_served_model"),
    "evals.harness --model local --backend hf --tasks all --limit 20":
        Covered(IT + "test_harness_live.py::test_hf_backend_runs_the_local_pubmedqa_task"),
    "evals.harness --model local --model gguf:RUN/export/RUN-F16.gguf --tasks geoquery,bfcl --limit 48":
        Covered(IT + "test_harness_live.py::test_project_benchmarks_run_as_harness_tasks_through_the_served_model"),
    "evals.harness --model local --backend hf --tasks pubmedqa --limit 10":
        Covered(IT + "test_harness_live.py::test_hf_backend_runs_the_local_pubmedqa_task"),
    "evals.code_eval --model local --n 5 --k 1,5":
        Run(argv=("-m", "evals.code_eval", "--model", "local", "--limit", "2", "--n", "1", "--k", "1",
                  "--out", "{tmp}/code_eval"), expect=CODE_EVAL_EXPECT),
    "evals.code_eval --model local": Covered(UNIT + "test_code_eval.py::test_canonical_solutions_pass_and_empty_bodies_fail"),
    "evals.code_eval --attacks": Covered(IT + "test_sandbox_attacks.py::test_every_attack_is_contained"),
    "evals.judge --data ../shared/data/hh_rlhf_harmless_test --judge local --limit 40":
        Run(argv=("-m", "evals.judge", "--judge", "local", "--limit", "2", "--out", "{tmp}/judge"), expect=JUDGE_EXPECT),
    "evals.judge --judge local --limit 20": Covered(UNIT + "test_judge.py::test_position_swap_turns_a_position_bias_into_ties"),
    "evals.judge --judge reward:.hearth/finetune/reward/rm-20261203-072652 --limit 0":
        Covered(IT + "test_preference_lab.py::test_the_reward_model_judges_hh_pairs_only_on_prompts_it_never_trained_on"),
    "evals.bias_audit --model local":
        Covered(UNIT + "test_bias_audit.py::test_a_favoured_name_shows_as_flips_spread_and_a_positive_gap"),
    # Fine-tuning lifecycle
    "python -m training.sql_data":
        Run(argv=("-m", "training.sql_data", "--out", "{tmp}/sql_data", "--per-domain", "5"), expect=SQL_DATA_EXPECT),
    "python -m training.grounded_data --no-pubmedqa":
        Covered("tests/unit/test_finetune_data.py::test_xquad_grounded_rows_cite_the_answer_sentence_and_never_hold_a_test_article_question"),
    "python -m training.tool_data":
        Run(argv=("-m", "training.tool_data", "--out", "{tmp}/tool_data", "--per-call", "1"), expect=TOOL_DATA_EXPECT),
    "python -m training.sft --data .hearth/finetune/data/sql.jsonl --name sql --method full --time-budget 1800":
        Covered(IT + "test_finetune_lifecycle.py::test_sft_merge_gguf_quantize_round_trip"),
    "python -m training.sft --data .hearth/finetune/data/home_tools.jsonl --name home-tools --method full --shared-prefix "
    "--max-length 2048":
        Covered(IT + "test_finetune_lifecycle.py::test_shared_prefix_loss_equals_the_full_pass_on_real_tool_rows"),
    "python -m training.sft --data .hearth/finetune/data/sql.jsonl --name sql --device cuda --epochs 3 --batch-size 16 "
    "--no-gradient-checkpointing":
        Covered(UNIT + "test_finetune_data.py::test_a_gpu_asked_for_where_there_is_none_is_refused_with_the_fix"),
    "python -m training.export RUN --levels F16,Q8_0,Q4_K_M --lora-gguf":
        Covered(IT + "test_finetune_lifecycle.py::test_sft_merge_gguf_quantize_round_trip"),
    "python -m training.registry register RUN --name hearth-sql --alias production":
        Covered(IT + "test_finetune_lifecycle.py::test_registry_spec_resolves_the_registered_gguf_and_follows_the_alias"),
    "python -m training.registry register .hearth/finetune/reward/rm-20261203-072652 --name hearth-reward "
    "--alias production":
        Covered(IT + "test_preference_lab.py::test_a_registered_reward_model_is_a_judge_and_never_a_chat_model"),
    "python -m evals.judge --judge reward:registry:hearth-reward@production --limit 0":
        Covered(IT + "test_preference_lab.py::test_a_registered_reward_model_is_a_judge_and_never_a_chat_model"),
    "python -m evals.finetune --tuned registry:hearth-sql@production":
        Run(argv=("-m", "evals.finetune", "--suites", "geoquery_dev,forgetting", "--limit", "2", "--windows", "1",
                  "--out", "{tmp}/finetune", "--name", "walk"),
            expect=(r"\| GeoQuery dev, model's own SQL \(exec\. acc\.\) \| [\d.]+% \(\d+\) \|", r"Perplexity, Alice"),
            timeout=900),
    "python -m evals.quantization --run RUN --with-base":
        Run(argv=("-m", "evals.quantization", "--with-base", "--levels", "Q8_0", "--task-limit", "1", "--windows", "2",
                  "--name", "walk"), expect=QUANT_EXPECT, timeout=900),
    "python -m apps.lifecycle": Covered(UNIT + "test_lifecycle_page.py::test_page_lists_runs_and_exports"),
    # Preference tuning and merging
    "python -m training.preference_data":
        Run(argv=("-m", "training.preference_data"), expect=(r'"test": \{\s*"pairs": 462', r"keys_sha256")),
    "python -m training.reward_model --time-budget 600 --max-length 128 --test-limit 100":
        Covered(IT + "test_preference_lab.py::test_reward_model_trains_scores_and_reports_against_both_baselines"),
    "python -m training.reward_model --method probe --max-length 128":
        Covered(IT + "test_preference_lab.py::test_the_linear_probe_reward_model_is_fitted_on_train_chosen_on_validation_"
                "and_judges_like_its_table"),
    "python -m training.dpo --reward-model RM_RUN --time-budget 600":
        Covered(IT + "test_preference_lab.py::"
                "test_dpo_trains_a_lora_with_the_adapter_off_as_reference_and_measures_before_after"),
    "python -m training.dpo --pairs on-policy --reward-model RM_RUN --train-limit 240 --time-budget 900":
        Covered(IT + "test_preference_lab.py::"
                "test_on_policy_dpo_ranks_the_models_own_samples_with_the_probe_and_trains_on_train_prompts_only"),
    "python -m training.merge --method ties --models RUN_A RUN_B --base bundled --gguf":
        Covered(IT + "test_preference_lab.py::test_merges_load_generate_and_keep_tokenizer_and_chat_template"),
}


def walked(command: str) -> Run | Covered | None:
    return WALK.get(command)


def test_every_readme_command_is_walked():
    missing = [c for c in readme_commands(README.read_text()) if walked(c) is None]
    assert not missing, "README commands with no walk entry (add them to WALK):\n" + "\n".join(missing)


def test_covering_tests_exist():
    for command, entry in WALK.items():
        if isinstance(entry, Covered):
            path, _, name = entry.by.partition("::")
            source = (ROOT / path).read_text()
            assert f"def {name}(" in source, f"{command}: {entry.by} does not exist"


RUNS = [(c, e) for c, e in WALK.items() if isinstance(e, Run)]


@pytest.fixture(scope="module")
def walk_home(tmp_path_factory):
    """One data home for the whole walk, as a reader has: the handbook is indexed once."""
    return tmp_path_factory.mktemp("readme-walk-home")


@pytest.mark.slow
@pytest.mark.parametrize("command,entry", RUNS, ids=[c[:60] for c, _ in RUNS])
def test_readme_command(command, entry, walk_home, tmp_path):
    from models.settings import shared_data

    argv, line_env = command_argv(command)
    if entry.argv:
        filled = [a.format(tmp=tmp_path, shared=shared_data()) for a in entry.argv]
        argv = python(*filled) if filled[0] == "-m" else filled
    env = {**os.environ, "HEARTH_HOME": str(walk_home), **line_env, **entry.env}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=entry.timeout)
    output = done.stdout + done.stderr
    assert done.returncode == entry.code, f"exit {done.returncode} (README promises {entry.code}):\n{output[-3000:]}"
    for pattern in entry.expect:
        assert re.search(pattern, output), f"{pattern!r} not in the output of {command}:\n{output[-3000:]}"
    assert "Traceback (most recent call last)" not in done.stderr, done.stderr[-3000:]
