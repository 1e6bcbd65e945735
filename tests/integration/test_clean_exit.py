"""Clean exits: CLIs that load llama.cpp models end without llama-cpp-python's teardown traceback
(`TypeError: 'NoneType' object is not callable` in free_model / Llama.__del__) and with exit code 0.
models.llamacpp closes every live `Llama` before interpreter shutdown."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from servers import ROOT, free_port, python

pytestmark = pytest.mark.slow


def test_a_vocabulary_only_model_cli_exits_cleanly():
    result = subprocess.run(python("-m", "apps.tokenizers", "--text", "Straße über 👋", "--names", "smollm2"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "smollm2" in result.stdout
    assert "Traceback" not in result.stderr and "NoneType" not in result.stderr, result.stderr


def test_a_cli_that_loaded_the_model_exits_without_a_teardown_traceback(tmp_path):
    """llama-cpp-python's finaliser fails at interpreter exit (`TypeError: 'NoneType' object is
    not callable` in free_model) unless the model is closed first: models.llamacpp closes every
    opened model at exit. Stopped with Ctrl-C after answering, the server must exit 0, silently."""
    import signal

    port = free_port()
    proc = subprocess.Popen(python("-m", "apps.serve", "--port", str(port), "--api-key", "k"), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "apps.serve did not start"
            time.sleep(0.2)
        auth = {"Authorization": "Bearer k"}
        chat = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", headers=auth, timeout=120,
                          json={"model": "local", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})
        scored = httpx.post(f"http://127.0.0.1:{port}/v1/completions", headers=auth, timeout=120,
                            json={"model": "local", "prompt": "Hello", "max_tokens": 2, "logprobs": 1})
        assert chat.status_code == 200 and scored.status_code == 200   # two llama.cpp contexts are open
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "NoneType" not in stderr, stderr
