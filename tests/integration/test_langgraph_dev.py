"""`langgraph dev --no-browser` serves the graphs of langgraph.json offline; run the RAG graph
through its HTTP API with the real embedded model and a real Qdrant folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from servers import ROOT, free_port, python, running

pytestmark = pytest.mark.slow


def test_every_graph_folder_is_registered():
    graphs = json.loads((ROOT / "langgraph.json").read_text())["graphs"]
    folders = {p.parent.name for p in (ROOT / "graphs").glob("*/graph.py")}
    assert folders == {Path(v.split(":")[0]).parent.name for v in graphs.values()}


def test_rag_graph_runs_through_the_dev_server(tmp_path):
    index = tmp_path / "qdrant"
    subprocess.run(python("-m", "apps.ask", "--ingest", "data/handbook", "--index-dir", str(index)),
                   cwd=ROOT, check=True, timeout=300, capture_output=True)
    port = free_port()
    langgraph = str(Path(sys.executable).with_name("langgraph"))
    env = {"HEARTH_INDEX": str(index), "HEARTH_HOME": str(tmp_path)}
    with running([langgraph, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)],
                 f"http://127.0.0.1:{port}/ok", env=env, timeout=180, log=tmp_path / "langgraph.log"):
        base = f"http://127.0.0.1:{port}"
        assistants = httpx.post(f"{base}/assistants/search", json={"graph_id": "rag"}, timeout=30).json()
        assert assistants and assistants[0]["graph_id"] == "rag"
        # every registered graph loaded at start (an import error or a model built at import would show here)
        listed = {a["graph_id"] for a in httpx.post(f"{base}/assistants/search", json={"limit": 100}, timeout=30).json()}
        assert listed == set(json.loads((ROOT / "langgraph.json").read_text())["graphs"])
        schemas = httpx.get(f"{base}/assistants/{assistants[0]['assistant_id']}/schemas", timeout=30)
        assert schemas.status_code == 200
        thread = httpx.post(f"{base}/threads", json={}, timeout=30).json()["thread_id"]
        result = httpx.post(
            f"{base}/threads/{thread}/runs/wait",
            json={"assistant_id": "rag",
                  "input": {"messages": [{"role": "human", "content": "How many days of annual leave do I get?"}]},
                  "context": {"top_k": 3}},
            timeout=240,
        ).json()
    answer = result["messages"][-1]
    assert answer["type"] == "ai"
    assert "Sources" in answer["content"] and "annual-leave.md" in answer["content"]
    assert len(result["citations"]) == 3
