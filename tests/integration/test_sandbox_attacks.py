"""The whole hostile-generation list (evals/data/sandbox_attacks.jsonl) against the sandbox:
every attack ends as expected, nothing outside the sandbox changes, nothing reaches a loopback
listener; and with the audit hook off, the operating-system layers alone still keep the outside
folder and the network untouched where the kernel offers them."""

from __future__ import annotations

import pytest

from evals.code_eval import attacks_markdown, load_attacks, run_attacks, snapshot

pytestmark = pytest.mark.slow


def test_every_attack_is_contained(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    before = snapshot(outside)
    rows = run_attacks(load_attacks(), outside, timeout=3.0)
    table = attacks_markdown(rows)
    assert len(rows) >= 25
    assert [r["name"] for r in rows if not r["contained"]] == [], table
    after = snapshot(outside)
    assert after == {**before, "canary.txt": after["canary.txt"]}
    assert "0 escaped" in table


def test_operating_system_layers_hold_alone(tmp_path):
    rows = run_attacks(load_attacks(), tmp_path / "outside", timeout=2.0, audit_hook=False)
    layers = rows[0]["layers"]
    if not (layers.get("read_only_filesystem") or layers.get("unprivileged_user")) or not layers.get("network_namespace"):
        pytest.skip(f"this kernel gives the child no read-only or network namespace: {layers}")
    assert [r["name"] for r in rows if r["outside_changed"] or r["reached_listener"]] == []
    by_name = {r["name"]: r["status"] for r in rows}
    assert by_name["huge_allocation"] == "memory" and by_name["infinite_loop"] == "timeout"
