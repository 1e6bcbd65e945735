"""Improper output handling (OWASP LLM05) and sensitive data in logs (LLM02): model output reaches
HTML only escaped, SQL and Cypher only through the read-only checks, never a shell; the server
does not log prompts."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.security
ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agents", "apps", "evals", "graphs", "models", "rag", "tools", "training")


def _sources():
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_model_text_shown_as_html_is_escaped():
    from training.tokenizers.compare import tokens_html

    shown = tokens_html(["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"])
    assert "<script>" not in shown and "<img" not in shown and "&lt;script&gt;" in shown
    # every place that lets Streamlit render raw HTML passes it through an escaping helper
    raw = [(path.relative_to(ROOT).as_posix(), line.strip()) for path in _sources()
           for line in path.read_text().splitlines() if "unsafe_allow_html=True" in line]
    assert raw and all("tokens_html(" in line for _, line in raw), raw


@pytest.mark.parametrize("sql", ["DROP TABLE orders", "DELETE FROM customers",
                                 "SELECT 1; UPDATE orders SET total = 0", "ATTACH DATABASE '/tmp/x' AS x"])
def test_model_sql_is_refused_unless_read_only(sql):
    from tools.sql.safety import UnsafeSQLError, check_sql_read_only

    with pytest.raises(UnsafeSQLError):
        check_sql_read_only(sql, "sqlite")


@pytest.mark.parametrize("cypher", ["MATCH (n) DETACH DELETE n", "CREATE (:Movie {name: 'x'})",
                                    "MATCH (m) SET m.name = 'x' RETURN m"])
def test_model_cypher_is_refused_unless_read_only(cypher):
    from rag.graph_store import UnsafeCypherError, check_read_only

    with pytest.raises(UnsafeCypherError):
        check_read_only(cypher)


def test_no_code_path_hands_text_to_a_shell():
    pattern = re.compile(r"shell\s*=\s*True|os\.system\(|os\.popen\(|(?<![.\w])(?:eval|exec)\(")
    found = [(path.relative_to(ROOT).as_posix(), n) for path in _sources()
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if pattern.search(line) and not line.lstrip().startswith("#")]
    # The code-evaluation sandbox exists to run generated programs: its exec runs inside the jailed
    # child process (its own namespaces, rlimits, audit hook; tests/integration/test_sandbox_attacks.py).
    sandboxed = {("tools/sandbox.py", n) for n, line in enumerate((ROOT / "tools/sandbox.py").read_text().splitlines(), 1)
                 if line.lstrip().startswith("exec(compile(source, program")}
    assert len(sandboxed) == 1
    assert [f for f in found if f not in sandboxed] == []


def test_the_server_does_not_log_prompts_or_answers(caplog):
    from fastapi.testclient import TestClient
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from models.serving.app import create_app

    app = create_app("local", "local", chat_model=FakeListChatModel(responses=["the answer is 4217"]))
    with caplog.at_level(logging.DEBUG):
        r = TestClient(app).post("/v1/chat/completions", json={
            "model": "local", "messages": [{"role": "user", "content": "my card is 4111 1111 1111 1111"}]})
        r404 = TestClient(app).post("/v1/chat/completions", json={
            "model": "nope", "messages": [{"role": "user", "content": "my card is 4111 1111 1111 1111"}]})
    assert r.status_code == 200 and r404.status_code == 404
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "4111" not in logged and "4217" not in logged
