"""Installed in every Python process the tests start (through PYTHONPATH): see tests/netguard/guard.py."""

import os

if os.environ.get("HEARTH_NETGUARD_LOG"):
    import guard  # noqa: F401  (tests/netguard is on PYTHONPATH)

    guard.install(os.environ["HEARTH_NETGUARD_LOG"])
