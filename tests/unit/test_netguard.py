import socket
import subprocess
import sys

import pytest

from guard import OutboundNetworkBlocked


def test_outbound_connect_is_blocked_and_loopback_is_not(tmp_path, monkeypatch):
    import conftest

    with pytest.raises(OutboundNetworkBlocked):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    # The guard logged it; clear the log so this deliberate attempt does not fail the test.
    conftest._LOG.write_text("")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()


def test_subprocesses_are_guarded_too():
    import conftest

    code = "import socket\ntry:\n socket.getaddrinfo('example.com', 443)\nexcept ConnectionRefusedError as e:\n print('blocked', e)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30).stdout
    conftest._LOG.write_text("")
    assert "blocked" in out
