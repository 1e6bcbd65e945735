"""A/B routing for `python -m apps.serve`: a share of chat traffic goes to another model spec or
another system prompt, sticky per user, with the variant recorded on the response, the metrics,
the trace and an A/B log that `python -m evals.ab` reads.

    python -m apps.serve --ab "B=prompt:prompts/concise.txt@20%"          # 20% get another system prompt
    python -m apps.serve --ab "B=gguf:/models/qwen.gguf@50%" --ab-pin alice=B   # another model; key alice pinned

A variant is `NAME=TARGET@PCT%`. TARGET is `prompt:FILE` (a system prompt read from FILE), a path
to an existing `.txt`/`.md` file (same), or any model spec (`local`, `gguf:PATH`, `ollama:...`).
What the shares leave goes to variant `A`: the server's own `--model` with the client's messages
unchanged (`--ab "A=prompt:FILE@60%"` names A's target and share explicitly; then the shares must
add up to 100).

Who is "the same user": the request's `user` field (OpenAI's), else the API key's id (its name in
`apps.keys`, or the single server key). The user is hashed with the router's salt into one of
10,000 buckets, so a user keeps their variant across requests and restarts, and the share of users
in a variant matches its percentage. `--ab-pin KEYNAME=VARIANT` pins every request of a key.

A system prompt variant goes in front of the conversation: merged into the client's own first
system message (the variant's text first) or inserted as a new one.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUCKETS = 10_000
BASELINE = "A"
_VARIANT = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)=(?P<target>.+?)(?:@(?P<share>[0-9.]+)%?)?$")


class ABConfigError(ValueError):
    """An --ab or --ab-pin value that cannot be used; the message names the fix."""


@dataclass
class Variant:
    """One arm of the test: a model spec or a system prompt (or neither: the server's model as is)."""

    name: str
    share: float  # percent of users
    model_spec: str | None = None
    system_prompt: str | None = None
    source: str = ""  # what the flag said, for the startup line and the log
    chat_model: Any = None  # built on first use (tests inject one)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def model(self, default_getter):
        """The chat model for this variant: its own spec's model (loaded once), else the server's."""
        if self.model_spec is None:
            return default_getter()
        if self.chat_model is None:
            with self._lock:
                if self.chat_model is None:
                    from models import load_chat_model

                    self.chat_model = load_chat_model(self.model_spec)
        return self.chat_model

    def apply_prompt(self, messages: list) -> list:
        """The conversation with this variant's system prompt in front (LangChain messages)."""
        if not self.system_prompt:
            return messages
        from langchain_core.messages import SystemMessage

        if messages and isinstance(messages[0], SystemMessage) and isinstance(messages[0].content, str):
            merged = SystemMessage(content=f"{self.system_prompt}\n\n{messages[0].content}")
            return [merged, *messages[1:]]
        return [SystemMessage(content=self.system_prompt), *messages]


def parse_variant(value: str) -> Variant:
    """One `--ab` value.

    >>> v = parse_variant("B=local@20%")
    >>> (v.name, v.model_spec, v.share)
    ('B', 'local', 20.0)
    """
    match = _VARIANT.match((value or "").strip())
    if not match:
        raise ABConfigError(f"--ab {value!r} is not NAME=TARGET@PCT%: e.g. --ab \"B=prompt:prompts/b.txt@20%\" "
                            "or --ab \"B=gguf:/models/other.gguf@50%\".")
    name, target, share = match["name"], match["target"].strip(), match["share"]
    try:
        pct = float(share) if share is not None else None
    except ValueError:
        pct = None
    if pct is None or not 0 <= pct <= 100:
        raise ABConfigError(f"--ab {value!r}: give the variant's share of users as a percentage from 0 to 100, "
                            f"e.g. {name}={target}@20%.")
    prompt_path = target[len("prompt:"):] if target.startswith("prompt:") else None
    if prompt_path is None and target.endswith((".txt", ".md")) and Path(target).is_file():
        prompt_path = target
    if prompt_path is not None:
        path = Path(prompt_path).expanduser()
        if not path.is_file():
            raise ABConfigError(f"--ab {value!r}: the prompt file {str(path)!r} does not exist; write the system "
                                "prompt into that file or fix the path.")
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise ABConfigError(f"--ab {value!r}: the prompt file {str(path)!r} is empty.")
        return Variant(name, pct, system_prompt=text, source=f"prompt:{path}")
    from models.spec import ModelSpecError, parse_model_spec

    try:
        parse_model_spec(target)
    except ModelSpecError as exc:
        raise ABConfigError(f"--ab {value!r}: {target!r} is neither a prompt file (prompt:FILE) nor a model spec: "
                            f"{exc}") from None
    return Variant(name, pct, model_spec=target, source=target)


class ABRouter:
    """Picks a variant per request: pinned key first, else the user's hash bucket."""

    def __init__(self, variants: list[Variant], pins: dict[str, str] | None = None, salt: str = "hearth-ab"):
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ABConfigError(f"--ab names a variant twice: {names}; give each variant one --ab.")
        total = sum(v.share for v in variants)
        if BASELINE not in names:
            if total > 100 + 1e-9:
                raise ABConfigError(f"--ab shares add up to {total:g}% (over 100%); lower them, the rest goes to "
                                    f"variant {BASELINE} (the server's --model).")
            variants = [Variant(BASELINE, 100 - total, source="server model"), *variants]
        elif abs(total - 100) > 1e-9:
            raise ABConfigError(f"--ab names variant {BASELINE} explicitly, so the shares must add up to 100%; "
                                f"they add up to {total:g}%.")
        self.variants = {v.name: v for v in variants}
        self.pins = dict(pins or {})
        for key, name in self.pins.items():
            if name not in self.variants:
                raise ABConfigError(f"--ab-pin {key}={name}: there is no variant {name!r}; "
                                    f"the variants are {sorted(self.variants)}.")
        self.salt = salt
        self._cuts: list[tuple[int, Variant]] = []
        edge = 0.0
        for v in variants:
            edge += v.share * BUCKETS / 100
            self._cuts.append((round(edge), v))

    @classmethod
    def from_flags(cls, values: list[str], pins: list[str] | None = None) -> "ABRouter":
        pinned = {}
        for pin in pins or []:
            key, sep, name = pin.partition("=")
            if not sep or not key.strip() or not name.strip():
                raise ABConfigError(f"--ab-pin {pin!r} is not KEYNAME=VARIANT, e.g. --ab-pin alice=B.")
            pinned[key.strip()] = name.strip()
        return cls([parse_variant(v) for v in values], pinned)

    def bucket(self, user: str) -> int:
        digest = hashlib.sha256(f"{self.salt}:{user}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % BUCKETS

    def choose(self, user: str, key_name: str | None = None) -> Variant:
        if key_name is not None and key_name in self.pins:
            return self.variants[self.pins[key_name]]
        b = self.bucket(user)
        for cut, variant in self._cuts:
            if b < cut:
                return variant
        return self._cuts[-1][1]

    def describe(self) -> str:
        parts = [f"{v.name}={v.source}@{v.share:g}%" for v in self.variants.values()]
        pins = [f"{k}->{v}" for k, v in self.pins.items()]
        return ", ".join(parts) + (f"; pinned {', '.join(pins)}" if pins else "")


def user_hash(user: str) -> str:
    """A short, non-reversible id of the user for the log (the log never holds keys or user names)."""
    return hashlib.sha256(f"hearth-ab-log:{user}".encode()).hexdigest()[:16]


class ABLog:
    """The A/B log: one JSON line per routed response and per feedback, appended to a file.

    {"event": "response", "response_id", "variant", "route", "status", "latency_s", "ttfb_s", "user", "ts"}
    {"event": "feedback", "response_id", "variant", "score", "ts"}

    The variants of recent responses are kept in memory (the last `remember`), so feedback can
    be attributed without reading the file back."""

    def __init__(self, path: Path, remember: int = 100_000):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, str] = OrderedDict()
        self._remember = remember
        self._file = None   # opened on the first record, kept open (one open() per line cost more than the write)

    def _append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if self._file is None or self._file.closed:
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(line)
            self._file.flush()   # each line reaches the file at once: readers (evals.ab) see it

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()

    def record_response(self, response_id: str, variant: str, route: str, status: int, latency_s: float,
                        ttfb_s: float | None, user: str) -> None:
        with self._lock:
            self._recent[response_id] = variant
            while len(self._recent) > self._remember:
                self._recent.popitem(last=False)
        self._append({"event": "response", "response_id": response_id, "variant": variant, "route": route,
                      "status": int(status), "latency_s": round(latency_s, 6),
                      "ttfb_s": None if ttfb_s is None else round(ttfb_s, 6), "user": user_hash(user),
                      "ts": time.time()})

    def variant_of(self, response_id: str) -> str | None:
        with self._lock:
            return self._recent.get(response_id)

    def record_feedback(self, response_id: str, variant: str, score: float, comment: str | None = None) -> None:
        record = {"event": "feedback", "response_id": response_id, "variant": variant, "score": float(score),
                  "ts": time.time()}
        if comment:
            record["comment"] = comment[:2000]
        self._append(record)


def default_log_path() -> Path:
    from models.settings import data_home

    return data_home() / "ab" / "ab_log.jsonl"
