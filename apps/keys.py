"""API keys for apps.serve: create, list and revoke keys with per-key limits.

    python -m apps.keys create team-a --rpm 60 --tpm 20000 --daily-tokens 200000   # prints the key once
    python -m apps.keys list
    python -m apps.keys revoke 3f9c2a1b7d4e
    python -m apps.keys --db postgresql://hearth:hearth@127.0.0.1:5432/hearth list   # keys shared by servers

The store defaults to $HEARTH_KEYS_DB, else .hearth/keys.sqlite; only each key's SHA-256 is
kept. Serve with the same store: `python -m apps.serve --keys-db URL` (several servers on one
PostgreSQL database share each key's limits).
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.keys", description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("HEARTH_KEYS_DB"),
                        help="sqlite:///PATH, a file path or postgresql://... (default $HEARTH_KEYS_DB, else .hearth/keys.sqlite)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key (printed once)")
    create.add_argument("name")
    create.add_argument("--rpm", type=int, default=None, help="requests per minute")
    create.add_argument("--tpm", type=int, default=None, help="tokens per minute")
    create.add_argument("--daily-tokens", type=int, default=None, help="tokens per UTC day")
    commands.add_parser("list", help="list keys (never the keys themselves)")
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    for flag in ("rpm", "tpm", "daily_tokens"):
        value = getattr(args, flag, None)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1 (leave it out for no limit).")

    from models.serving.keystore import open_key_store

    store = open_key_store(args.db)
    if args.command == "create":
        key, record = store.create(args.name, rpm=args.rpm, tpm=args.tpm, daily_tokens=args.daily_tokens)
        print(f"Created key {record.id} ({record.name}). Store it now: it is not shown again.\n{key}")
    elif args.command == "list":
        rows = store.list()
        if not rows:
            print("No keys yet: python -m apps.keys create NAME")
        for r in rows:
            limits = ", ".join(f"{label} {value}" for label, value in (("rpm", r.rpm), ("tpm", r.tpm),
                                                                        ("daily", r.daily_tokens)) if value) or "no limits"
            state = f"revoked {r.revoked_at}" if r.revoked_at else f"{store.usage_today(r.id)} tokens today"
            print(f"{r.id}  {r.name:<20} {limits:<32} created {r.created_at}  {state}")
    else:
        try:
            record = store.revoke(args.key_id)
        except KeyError as exc:
            print(f"apps.keys: {exc.args[0]}", file=sys.stderr)
            return 1
        print(f"Revoked key {record.id} ({record.name}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
