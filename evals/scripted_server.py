"""The gateway (`apps.serve`'s app: keys, limits, metrics, tracing, A/B) in front of a SCRIPTED model
that answers a fixed text at once (or streams it slowly), so what is measured is the gateway
itself, not a model: used by `evals.gateway_overhead`, `evals.soak` and the stream/shutdown tests.

    python -m evals.scripted_server --port 8010                                # every layer off: bare HTTP
    python -m evals.scripted_server --port 8010 --keys-db sqlite:///tmp/k.sqlite --metrics \\
        --tracing jsonl:/tmp/spans.jsonl --ab "B=prompt:/tmp/b.txt@50%"        # every layer on
    python -m evals.scripted_server --port 8010 --chunk-delay-ms 100 --reply-words 300   # a slow stream

The scripted model is not a language model: it replies `--reply-words` words of a fixed text
(a word per streamed chunk, `--chunk-delay-ms` apart) and reports token usage by word counts. It
keeps counts of started, finished and abandoned streams (`ScriptedChatModel.stats`). The server
shuts down like apps.serve (`models.serving.shutdown`).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any, Iterator

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

WORDS = ("the quick brown fox jumps over the lazy dog while a gateway counts every token it passes on").split()


def scripted_reply(words: int) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(words))


class ScriptedChatModel(BaseChatModel):
    """A scripted stand-in for a chat model (no weights, not a language model): the same reply to
    every prompt (cut at `max_tokens` words), streamed a word per chunk with `chunk_delay_s` between chunks. `stats` counts
    streams started, chunks sent, streams run to the end and streams abandoned by their reader."""

    reply_words: int = 8
    chunk_delay_s: float = 0.0
    stats: dict = Field(default_factory=lambda: {"streams": 0, "chunks": 0, "finished": 0, "abandoned": 0,
                                                 "invokes": 0})
    lock: Any = Field(default_factory=threading.Lock, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.stats[name] += n

    def _usage(self, messages) -> dict:
        prompt = sum(len(str(m.content).split()) for m in messages)
        return {"input_tokens": prompt, "output_tokens": self.reply_words, "total_tokens": prompt + self.reply_words}

    def _generate(self, messages, stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        self._count("invokes")
        message = AIMessage(content=scripted_reply(self.reply_words), usage_metadata=self._usage(messages),
                            response_metadata={"finish_reason": "stop"})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        self._count("streams")
        limit = kwargs.get("max_tokens") or self.reply_words
        words = scripted_reply(min(self.reply_words, limit)).split(" ")
        finish = "length" if limit < self.reply_words else "stop"
        done = False
        try:
            for i, word in enumerate(words):
                if self.chunk_delay_s:
                    time.sleep(self.chunk_delay_s)
                self._count("chunks")
                last = i == len(words) - 1
                yield ChatGenerationChunk(message=AIMessageChunk(
                    content=word if i == 0 else " " + word,
                    usage_metadata=self._usage(messages) if last else None,
                    response_metadata={"finish_reason": finish} if last else {}))
            done = True
        finally:
            self._count("finished" if done else "abandoned")


def build_app(*, reply_words: int = 8, chunk_delay_ms: float = 0.0, keys_db: str | None = None,
              api_key: str | None = None, metrics: bool = False, tracing: str | None = None,
              ab: list[str] | None = None, ab_log: str | None = None, concurrency: int | None = None):
    """apps.serve's app with the scripted model and the chosen layers; returns (app, model)."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from models.serving.app import create_app
    from models.serving.limits import ServerLimits

    if tracing:
        from models.tracing import configure_tracing

        configure_tracing(tracing)
    router = None
    if ab:
        from models.serving.ab import ABRouter

        router = ABRouter.from_flags(ab)
    key_store = None
    if keys_db:
        from models.serving.keystore import open_key_store

        key_store = open_key_store(keys_db)
    limits = ServerLimits.from_env()
    if concurrency is not None:
        from dataclasses import replace

        limits = replace(limits, concurrent_per_key=concurrency)
    model = ScriptedChatModel(reply_words=reply_words, chunk_delay_s=chunk_delay_ms / 1000)
    app = create_app("scripted", "scripted-embeddings", api_key=api_key, chat_model=model,
                     embeddings=DeterministicFakeEmbedding(size=8), limits=limits, key_store=key_store,
                     metrics=metrics, ab=router, ab_log=ab_log)
    return app, model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.scripted_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--reply-words", type=int, default=8, help="words in the scripted reply (default 8)")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="pause before each streamed word")
    parser.add_argument("--keys-db", default=None, metavar="URL", help="keys with limits (apps.keys' store)")
    parser.add_argument("--api-key", default=None, help="one static key (no limits)")
    parser.add_argument("--metrics", action="store_true", help="Prometheus metrics on (GET /metrics)")
    parser.add_argument("--tracing", default=None, metavar="SETTING", help="HEARTH_TRACING value, e.g. jsonl:PATH")
    parser.add_argument("--ab", action="append", default=[], metavar="NAME=TARGET@PCT%", help="A/B variant")
    parser.add_argument("--ab-log", default=None, metavar="PATH")
    parser.add_argument("--concurrency", type=int, default=None, help="generations at once per key")
    parser.add_argument("--grace-s", type=float, default=None, help="shutdown grace (default "
                        "$HEARTH_SERVE_SHUTDOWN_GRACE_S or 10)")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("evals.scripted_server: loopback only (--host 127.0.0.1); it is a measuring stand-in, not a server "
              "to expose.", file=sys.stderr)
        return 2
    import models  # noqa: F401  (offline runtime)
    from models.serving.shutdown import serve

    app, _ = build_app(reply_words=args.reply_words, chunk_delay_ms=args.chunk_delay_ms, keys_db=args.keys_db,
                       api_key=args.api_key, metrics=args.metrics, tracing=args.tracing, ab=args.ab,
                       ab_log=args.ab_log, concurrency=args.concurrency)
    print(f"Scripted model behind the gateway at http://{args.host}:{args.port}/v1", flush=True)
    serve(app, args.host, args.port, grace_s=args.grace_s)
    return 0



LAYERS = ("keys", "metrics", "tracing", "ab")


def layer_args(layers: set[str] | tuple[str, ...], workdir, key_name: str = "bench") -> tuple[list[str], str | None]:
    """Command-line flags for `python -m evals.scripted_server` with the given gateway layers on
    (files under `workdir`), and the API key to send (a fresh apps.keys key with generous
    limits when "keys" is on, so the limit checks run but never refuse; else None: an open server).

    >>> import tempfile, pathlib
    >>> flags, key = layer_args({"metrics"}, pathlib.Path(tempfile.mkdtemp()))
    >>> (flags, key)
    (['--metrics'], None)
    """
    from pathlib import Path

    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise ValueError(f"unknown gateway layers {sorted(unknown)}; choose from {list(LAYERS)}")
    workdir = Path(workdir)
    flags: list[str] = []
    key = None
    if "keys" in layers:
        from models.serving.keystore import open_key_store

        url = f"sqlite:///{workdir / 'keys.sqlite'}"
        key, _ = open_key_store(url).create(key_name, rpm=10_000_000, tpm=10_000_000_000, daily_tokens=10**15)
        flags += ["--keys-db", url]
    if "metrics" in layers:
        flags.append("--metrics")
    if "tracing" in layers:
        flags += ["--tracing", f"jsonl:{workdir / 'spans.jsonl'}"]
    if "ab" in layers:
        prompt = workdir / "variant_b.txt"
        prompt.write_text("Answer in one short sentence.\n")
        flags += ["--ab", f"B=prompt:{prompt}@50%", "--ab-log", str(workdir / "ab_log.jsonl")]
    return flags, key


def start(flags: list[str], port: int, log_path, *, env: dict | None = None, nice: int = 0, root=None):
    """Start `python -m evals.scripted_server` with `flags` on `port` (its output to `log_path`)
    and wait until /health answers; returns the Popen. Stop it with `stop(proc)`. `root`: the
    checkout whose code the server runs (default this one; e.g. a `git worktree` of main to compare)."""
    import os
    import subprocess
    from pathlib import Path

    import httpx

    root = Path(root).resolve() if root else Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "evals.scripted_server", "--port", str(port), *flags]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    with open(log_path, "w") as out:
        proc = subprocess.Popen(command, cwd=root, env={**os.environ, "PYTHONPATH": str(root), **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"evals.scripted_server exited with {proc.returncode}:\n"
                               f"{Path(log_path).read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            raise TimeoutError(f"evals.scripted_server not ready after 180 s:\n{Path(log_path).read_text()[-2000:]}")
        time.sleep(0.2)


def stop(proc) -> int:
    import os
    import signal
    import subprocess

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    raise SystemExit(main())
