"""API keys with per-key limits, kept in SQLite or PostgreSQL (hashed at rest), shared by every
server process that points at the same database.

    store = open_key_store("sqlite:///.hearth/keys.sqlite")        # or "postgresql://user:pw@host/db"
    key, record = store.create("team-a", rpm=60, tpm=20_000, daily_tokens=200_000)   # `key` is shown once
    store.verify(key)            # -> KeyRecord (None for unknown or revoked keys)
    store.admit(key)             # the key's record with one request counted, or RateLimited(retry_after_s=...)
    store.add_tokens(record, 123)    # after the reply: tokens/min bucket and the daily quota

Limits are token buckets: `rpm` requests and `tpm` tokens per minute (capacity one minute's
worth, refilled continuously), and `daily_tokens` per UTC day. The server admits a request with
`store.admit(key)`: one transaction that holds the key's row (SQLite `BEGIN IMMEDIATE`,
PostgreSQL `SELECT ... FOR UPDATE`), reads the key, both buckets and today's usage in one SELECT
and takes the request slot in one write, so concurrent requests, in one process or several,
never both take the last slot, and a revoked key is refused on its next request. A finished
request's tokens are charged in one more transaction (`add_tokens`: one UPDATE, one upsert).
SQLite runs in WAL mode with `synchronous=NORMAL` (a commit is not flushed to disk at once: a
power cut may lose the last moments' usage counts, never the key table's consistency).
A single server key (`apps.serve --api-key`) is a `StaticKeys` store: one key, no limits.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from models.serving.keys import hash_key, same_secret

KEY_PREFIX = "hk-"


@dataclass(frozen=True)
class KeyRecord:
    id: str
    name: str
    rpm: int | None = None            # requests per minute
    tpm: int | None = None            # tokens per minute
    daily_tokens: int | None = None   # tokens per UTC day
    created_at: str = ""
    revoked_at: str | None = None


class RateLimited(Exception):
    """A key is over one of its limits; `retry_after_s` says when to try again, `record` is the key's."""

    def __init__(self, message: str, retry_after_s: float, record: "KeyRecord | None" = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.record = record


class StaticKeys:
    """One key, no limits: the server key of `apps.serve --api-key` (or the generated one)."""

    blocking = False   # answers from memory: the server calls it on the event loop
    charges = False    # no usage to record

    def __init__(self, key: str):
        self.key = key
        self.record = KeyRecord(id="server-key", name="server key")

    def verify(self, token: str) -> KeyRecord | None:
        return self.record if same_secret(token, self.key) else None

    def admit(self, token: str) -> KeyRecord | None:
        return self.verify(token)

    def take_request(self, record: KeyRecord) -> None:
        return None

    def check_tokens(self, record: KeyRecord) -> None:
        return None

    def add_tokens(self, record: KeyRecord, tokens: int) -> None:
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


SCHEMA = [
    """CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE,
       rpm INTEGER, tpm INTEGER, daily_tokens INTEGER, created_at TEXT NOT NULL, revoked_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS key_buckets (key_id TEXT NOT NULL, kind TEXT NOT NULL, level DOUBLE PRECISION NOT NULL,
       updated DOUBLE PRECISION NOT NULL, PRIMARY KEY (key_id, kind))""",
    """CREATE TABLE IF NOT EXISTS key_daily_usage (key_id TEXT NOT NULL, day TEXT NOT NULL, tokens BIGINT NOT NULL,
       PRIMARY KEY (key_id, day))""",
]


class SQLKeyStore:
    """Keys and their usage in SQLite (one file) or PostgreSQL (several servers share it)."""

    blocking = True    # database round trips: the server calls it from a worker thread
    charges = True     # tokens are charged after each request

    def __init__(self, url: str):
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        self._local = threading.local()
        with self._transaction() as cur:
            for statement in SCHEMA:
                cur.execute(statement)

    # -- connections ---------------------------------------------------------------------
    def _connect(self):
        if self.postgres:
            import psycopg

            return psycopg.connect(self.url, autocommit=True)
        path = self.url.removeprefix("sqlite:///") if self.url.startswith("sqlite:///") else self.url
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")   # WAL: commits skip the fsync; see the module docstring
        return conn

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    class _Tx:
        def __init__(self, store: "SQLKeyStore"):
            self.store = store

        def __enter__(self):
            conn = self.store._conn()
            self.cur = conn.cursor()
            self.cur.execute("BEGIN" if self.store.postgres else "BEGIN IMMEDIATE")
            return self

        def execute(self, sql: str, params: tuple = ()):
            if self.store.postgres:
                sql = sql.replace("?", "%s")
            self.cur.execute(sql, params)
            return self.cur

        def __exit__(self, kind, exc, tb):
            self.cur.execute("ROLLBACK" if kind else "COMMIT")
            return False

    def _transaction(self) -> "_Tx":
        return SQLKeyStore._Tx(self)

    # -- admin -----------------------------------------------------------------------------
    def create(self, name: str, *, rpm: int | None = None, tpm: int | None = None,
               daily_tokens: int | None = None) -> tuple[str, KeyRecord]:
        """A new key (returned once; only its SHA-256 is stored) and its record."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = KeyRecord(id=uuid.uuid4().hex[:12], name=name, rpm=rpm, tpm=tpm, daily_tokens=daily_tokens,
                           created_at=_now())
        with self._transaction() as tx:
            tx.execute("INSERT INTO api_keys (id, name, key_hash, rpm, tpm, daily_tokens, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", (record.id, name, hash_key(key), rpm, tpm, daily_tokens,
                                                        record.created_at))
            for kind, per_minute in (("requests", rpm), ("tokens", tpm)):   # rows exist before any request locks them
                tx.execute("INSERT INTO key_buckets (key_id, kind, level, updated) VALUES (?, ?, ?, ?)",
                           (record.id, kind, float(per_minute or 0), time.time()))
        return key, record

    def list(self) -> list[KeyRecord]:
        with self._transaction() as tx:
            rows = tx.execute("SELECT id, name, rpm, tpm, daily_tokens, created_at, revoked_at FROM api_keys "
                              "ORDER BY created_at, id").fetchall()
        return [KeyRecord(*row) for row in rows]

    def revoke(self, key_id: str) -> KeyRecord:
        with self._transaction() as tx:
            found = tx.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                               (_now(), key_id)).rowcount
        if not found:
            known = ", ".join(r.id for r in self.list() if r.revoked_at is None) or "none"
            raise KeyError(f"No active key {key_id!r} (active keys: {known}). `python -m apps.keys list` shows them.")
        return next(r for r in self.list() if r.id == key_id)

    def usage_today(self, key_id: str) -> int:
        row = self._read("SELECT tokens FROM key_daily_usage WHERE key_id = ? AND day = ?", (key_id, _today()))
        return int(row[0]) if row else 0

    # -- serving ---------------------------------------------------------------------------
    _KEY_COLUMNS = "k.id, k.name, k.rpm, k.tpm, k.daily_tokens, k.created_at, k.revoked_at"

    def verify(self, token: str) -> KeyRecord | None:
        """The key's record, or None for unknown or revoked keys (one read, no transaction)."""
        sql = f"SELECT {self._KEY_COLUMNS} FROM api_keys k WHERE k.key_hash = ?"
        cur = self._conn().cursor()
        cur.execute(sql.replace("?", "%s") if self.postgres else sql, (hash_key(token),))
        row = cur.fetchone()
        if row is None or row[6] is not None:
            return None
        return KeyRecord(*row)

    def admit(self, token: str) -> KeyRecord | None:
        """Check the key and count one request against its limits, in one transaction: the key's
        record (None for unknown or revoked keys), or RateLimited when it is over a limit (a refused
        request takes nothing). Statements: BEGIN, one SELECT (two in PostgreSQL: the row lock, then the
        read), one upsert (only with an rpm limit), COMMIT."""
        with self._transaction() as tx:
            if self.postgres:
                # Hold the key's row first, then read the buckets in a new statement: under READ COMMITTED
                # a statement that waited for a lock still reads the other tables as of its own start, so
                # one locking SELECT with the joins would see a bucket level another server just changed.
                tx.execute("SELECT id FROM api_keys WHERE key_hash = ? FOR UPDATE", (hash_key(token),))
            row = tx.execute(
                f"SELECT {self._KEY_COLUMNS}, r.level, r.updated, t.level, t.updated, d.tokens FROM api_keys k "
                "LEFT JOIN key_buckets r ON r.key_id = k.id AND r.kind = 'requests' "
                "LEFT JOIN key_buckets t ON t.key_id = k.id AND t.kind = 'tokens' "
                "LEFT JOIN key_daily_usage d ON d.key_id = k.id AND d.day = ? WHERE k.key_hash = ?",
                (_today(), hash_key(token))).fetchone()
            now = time.time()   # read once the row is held: an earlier clock would refill backwards
            if row is None or row[6] is not None:
                return None
            record = KeyRecord(*row[:7])
            r_level, r_updated, t_level, t_updated, used = row[7:]
            if record.rpm is not None:
                level = _refill(r_level, r_updated, record.rpm, now)
                if level < 1.0:
                    wait = (1.0 - level) * 60.0 / record.rpm
                    raise RateLimited(f"Rate limit reached for key {record.name!r}: {record.rpm} requests per "
                                      f"minute. Retry in {wait:.1f} s.", wait, record)
            self._check_token_limits(record, _refill(t_level, t_updated, record.tpm, now) if record.tpm else None,
                                     int(used or 0))
            if record.rpm is not None:   # an upsert: a key whose bucket row went missing is repaired here
                tx.execute("INSERT INTO key_buckets (key_id, kind, level, updated) VALUES (?, 'requests', ?, ?) "
                           "ON CONFLICT (key_id, kind) DO UPDATE SET level = excluded.level, updated = excluded.updated",
                           (record.id, level - 1.0, now))
        return record

    def take_request(self, record: KeyRecord) -> None:
        """Count one request against the key's limits, or raise RateLimited (admit() does this and
        the key check in one transaction; this is for a record already in hand)."""
        with self._transaction() as tx:
            lock = " FOR UPDATE" if self.postgres else ""
            rows = dict((kind, (level, updated)) for kind, level, updated in tx.execute(
                f"SELECT kind, level, updated FROM key_buckets WHERE key_id = ?{lock}", (record.id,)).fetchall())
            now = time.time()
            used = tx.execute("SELECT tokens FROM key_daily_usage WHERE key_id = ? AND day = ?",
                              (record.id, _today())).fetchone()
            if record.rpm is not None:
                level = _refill(*rows.get("requests", (None, None)), record.rpm, now)
                if level < 1.0:
                    wait = (1.0 - level) * 60.0 / record.rpm
                    raise RateLimited(f"Rate limit reached for key {record.name!r}: {record.rpm} requests per "
                                      f"minute. Retry in {wait:.1f} s.", wait, record)
            self._check_token_limits(record, _refill(*rows.get("tokens", (None, None)), record.tpm, now)
                                     if record.tpm else None, int(used[0]) if used else 0)
            if record.rpm is not None:
                tx.execute("INSERT INTO key_buckets (key_id, kind, level, updated) VALUES (?, 'requests', ?, ?) "
                           "ON CONFLICT (key_id, kind) DO UPDATE SET level = excluded.level, updated = excluded.updated",
                           (record.id, level - 1.0, now))

    def check_tokens(self, record: KeyRecord) -> None:
        """Refuse while the tokens/min bucket is empty (spent below zero) or the daily quota is used up."""
        level = None
        if record.tpm is not None:
            row = self._read("SELECT level, updated FROM key_buckets WHERE key_id = ? AND kind = 'tokens'", (record.id,))
            level = _refill(*(row or (None, None)), record.tpm, time.time())
        self._check_token_limits(record, level, self.usage_today(record.id) if record.daily_tokens is not None else 0)

    def _read(self, sql: str, params: tuple):
        cur = self._conn().cursor()
        cur.execute(sql.replace("?", "%s") if self.postgres else sql, params)
        return cur.fetchone()

    @staticmethod
    def _check_token_limits(record: KeyRecord, tokens_level: float | None, used_today: int) -> None:
        if record.tpm is not None and tokens_level is not None and tokens_level <= 0:
            wait = (-tokens_level + 1.0) * 60.0 / record.tpm
            raise RateLimited(f"Token rate limit reached for key {record.name!r}: {record.tpm} tokens per minute. "
                              f"Retry in {wait:.1f} s.", wait, record)
        if record.daily_tokens is not None and used_today >= record.daily_tokens:
            now = datetime.now(timezone.utc)
            midnight = datetime(now.year, now.month, now.day, tzinfo=timezone.utc).timestamp() + 86_400
            raise RateLimited(f"Daily token quota reached for key {record.name!r}: {used_today} of "
                              f"{record.daily_tokens} tokens used today (UTC). It resets at midnight UTC.",
                              midnight - now.timestamp(), record)

    def add_tokens(self, record: KeyRecord, tokens: int) -> None:
        """Charge a finished request's tokens to the tokens/min bucket (it may go below zero: the
        next request waits until it refills) and to the daily quota: the bucket is refilled and
        charged inside one UPDATE, so no lock is held between a read and a write."""
        if tokens <= 0:
            return
        smaller, larger = ("LEAST", "GREATEST") if self.postgres else ("MIN", "MAX")
        with self._transaction() as tx:
            now = time.time()
            if record.tpm is not None:   # the refill never runs backwards, whatever another server's clock wrote
                tx.execute(f"UPDATE key_buckets SET level = {smaller}(?, level + {larger}(0, ? - updated) * ?) - ?, "
                           f"updated = {larger}(updated, ?) "
                           "WHERE key_id = ? AND kind = 'tokens'",
                           (float(record.tpm), now, record.tpm / 60.0, float(tokens), now, record.id))
            tx.execute("INSERT INTO key_daily_usage (key_id, day, tokens) VALUES (?, ?, ?) ON CONFLICT (key_id, day) "
                       "DO UPDATE SET tokens = key_daily_usage.tokens + excluded.tokens", (record.id, _today(), tokens))


def _refill(level: float | None, updated: float | None, per_minute: int, now: float) -> float:
    """A bucket's level at `now`: refilled at per_minute/60 per second up to per_minute (a missing
    row counts as full)."""
    if level is None or updated is None:
        return float(per_minute)
    return min(float(per_minute), float(level) + max(0.0, now - float(updated)) * per_minute / 60.0)


def default_key_db() -> str:
    from models.serving.keys import secrets_dir

    return f"sqlite:///{secrets_dir().parent / 'keys.sqlite'}"


def open_key_store(url: str | None = None) -> SQLKeyStore:
    """The key store at `url` ('sqlite:///PATH', a plain path, or 'postgresql://...'); default
    .hearth/keys.sqlite."""
    return SQLKeyStore(url or default_key_db())
