"""Load test: our `apps.serve` against llama-cpp-python's own OpenAI server on the same GGUF, one
after the other in one run, same load, loopback only, driven by locust (headless).

    python -m evals.load_test                                  # 4 users, 60 s each, 2 threads per server
    python -m evals.load_test --users 2 --seconds 20 --max-tokens 16 --out out/load_test_quick

Both servers get the bundled SmolLM2 GGUF (or --gguf PATH), the same context size and threads;
llama.cpp's server is configured as its docs describe (`python -m llama_cpp.server --model PATH
--n_threads N --n_ctx N`, the GGUF's own chat template), with `--interrupt_requests False`: its default
cuts a running stream off whenever a new request arrives, which under concurrent users turns most
requests into errors. All users share one API key, and
apps.serve lets that key run --concurrency generations at once (default: as many as users; the
server's own default, 2, answers the rest 429). Each user sends streamed chat completions (`evals/locust_chat.py`). Reported per server: requests, errors, 5xx, 429s,
throughput (completed requests/s), latency and time-to-first-token p50/p95, streamed chunks/s,
and the server's RSS (with children) sampled every second; then the ratios ours/theirs.
JSON + markdown under --out. Bounded in users and time; on a shared machine the absolute numbers
move with the neighbours' load, the ratio of the two runs less so.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("hearth", "llama_cpp")


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def aggregate(records: list[dict], seconds: float, rss_mb: list[float]) -> dict:
    """One server's figures from locust's per-request records and the RSS samples (MB).

    >>> r = aggregate([{"status": 200, "latency_s": 1.0, "ttft_s": 0.2, "chunks": 10, "error": None}], 2.0, [100, 101])
    >>> (r["ok"], r["throughput_rps"], r["rss_growth_pct"])
    (1, 0.5, 1.0)
    """
    ok = [r for r in records if r.get("status") == 200 and not r.get("error")]
    latencies = [r["latency_s"] for r in ok]
    ttfts = [r["ttft_s"] for r in ok if r.get("ttft_s") is not None]
    status = [r.get("status") for r in records]
    kinds: dict[str, int] = {}
    for r in records:
        if r not in ok:
            kind = r.get("error") or f"HTTP {r.get('status')}"
            kinds[kind[:120]] = kinds.get(kind[:120], 0) + 1
    return {
        "requests": len(records), "ok": len(ok), "errors": len(records) - len(ok),
        "server_errors_5xx": sum(1 for s in status if s is not None and s >= 500),
        "rate_limited_429": sum(1 for s in status if s == 429),
        "connection_errors": sum(1 for r in records if r.get("error")), "error_kinds": kinds,
        "seconds": seconds, "throughput_rps": len(ok) / seconds if seconds else None,
        "chunks_per_s": sum(r.get("chunks", 0) for r in ok) / seconds if seconds else None,
        "latency_p50_s": percentile(latencies, 50), "latency_p95_s": percentile(latencies, 95),
        "ttft_p50_s": percentile(ttfts, 50), "ttft_p95_s": percentile(ttfts, 95),
        "rss_start_mb": rss_mb[0] if rss_mb else None, "rss_end_mb": rss_mb[-1] if rss_mb else None,
        "rss_max_mb": max(rss_mb) if rss_mb else None,
        "rss_growth_pct": 100 * (rss_mb[-1] - rss_mb[0]) / rss_mb[0] if len(rss_mb) > 1 and rss_mb[0] else None,
    }


def ratios(ours: dict, theirs: dict) -> dict:
    """ours / theirs for throughput, latency and TTFT (None where either side has no figure)."""
    def div(key):
        a, b = ours.get(key), theirs.get(key)
        return a / b if a is not None and b else None

    return {"throughput": div("throughput_rps"), "latency_p50": div("latency_p50_s"),
            "latency_p95": div("latency_p95_s"), "ttft_p50": div("ttft_p50_s"), "chunks_per_s": div("chunks_per_s")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(system: str, gguf: Path, port: int, key: str, threads: int, n_ctx: int) -> list[str]:
    if system == "hearth":
        return [sys.executable, "-m", "apps.serve", "--model", f"gguf:{gguf}?n_threads={threads}&n_ctx={n_ctx}",
                "--served-model-name", "local", "--port", str(port), "--api-key", key]
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "local",
            "--n_threads", str(threads), "--n_threads_batch", str(threads), "--n_ctx", str(n_ctx),
            "--host", "127.0.0.1", "--port", str(port), "--api_key", key, "--interrupt_requests", "False"]


def wait_ready(proc: subprocess.Popen, url: str, key: str, log: Path, timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready after {timeout} s:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)


def warm_up(url: str, key: str) -> None:
    """One request first, so model loading is not measured (ours loads on first use)."""
    import httpx

    httpx.post(f"{url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=300,
               json={"model": "local", "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}]})


class RssSampler(threading.Thread):
    """The process's RSS plus its children's, in MB, once a second until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self._stop_event = pid, [], threading.Event()

    def run(self) -> None:
        import psutil

        proc = psutil.Process(self.pid)
        while not self._stop_event.is_set():
            try:
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
                self.samples.append(rss / 2**20)
            except psutil.Error:
                break
            self._stop_event.wait(1.0)

    def stop(self) -> list[float]:
        self._stop_event.set()
        self.join(5)
        return self.samples


def run_one(system: str, args, workdir: Path) -> dict:
    port, key = free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    log = workdir / f"{system}_server.log"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HEARTH_TRACING": "off"}
    if system == "hearth" and args.concurrency:
        env["HEARTH_SERVE_CONCURRENCY"] = str(args.concurrency)
    with open(log, "w") as out:
        proc = subprocess.Popen(server_command(system, args.gguf, port, key, args.threads, args.n_ctx), cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_ready(proc, url, key, log)
        warm_up(url, key)
        records_path = workdir / f"{system}_records.json"
        sampler = RssSampler(proc.pid)
        sampler.start()
        started = time.perf_counter()
        locust = [sys.executable, "-m", "locust", "-f", str(ROOT / "evals" / "locust_chat.py"), "--headless",
                  "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s", "--host", url,
                  "--stop-timeout", "120", "--only-summary", "--loglevel", "WARNING"]
        subprocess.run(locust, cwd=ROOT, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**env, "LOAD_TEST_RECORDS": str(records_path), "LOAD_TEST_KEY": key,
                            "LOAD_TEST_MAX_TOKENS": str(args.max_tokens)}, timeout=args.seconds + 300)
        seconds = time.perf_counter() - started
        rss = sampler.stop()
        records = json.loads(records_path.read_text()) if records_path.is_file() else []
        if not records:
            raise RuntimeError(f"locust recorded no requests against {system}; see {log}")
        return aggregate(records, seconds, rss)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def to_markdown(report: dict) -> str:
    def f(v, d=3):
        return "-" if v is None else (f"{v:.{d}f}" if isinstance(v, float) else str(v))

    cfg = report["config"]
    lines = [f"# Load test: apps.serve vs llama_cpp.server ({cfg['users']} users, {cfg['seconds']} s each, "
             f"{cfg['threads']} threads, max_tokens {cfg['max_tokens']}, {Path(cfg['gguf']).name})", "",
             "| server | requests | ok | errors | 5xx | 429 | req/s | chunks/s | p50 latency (s) | p95 latency (s) | "
             "p50 TTFT (s) | p95 TTFT (s) | RSS start/max/end (MB) | RSS growth |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in report["servers"].items():
        lines.append(f"| {name} | {r['requests']} | {r['ok']} | {r['errors']} | {r['server_errors_5xx']} | "
                     f"{r['rate_limited_429']} | {f(r['throughput_rps'])} | {f(r['chunks_per_s'], 1)} | "
                     f"{f(r['latency_p50_s'])} | {f(r['latency_p95_s'])} | {f(r['ttft_p50_s'])} | "
                     f"{f(r['ttft_p95_s'])} | {f(r['rss_start_mb'], 0)}/{f(r['rss_max_mb'], 0)}/"
                     f"{f(r['rss_end_mb'], 0)} | {f(r['rss_growth_pct'], 1)}% |")
    if report.get("ratios"):
        r = report["ratios"]
        lines += ["", f"Ours / llama_cpp.server: throughput {f(r['throughput'])}x, p50 latency {f(r['latency_p50'])}x, "
                      f"p95 latency {f(r['latency_p95'])}x, p50 TTFT {f(r['ttft_p50'])}x."]
    lines += ["", report["note"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.load_test", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4, help="concurrent locust users (default 4, at most 64)")
    parser.add_argument("--seconds", type=int, default=60, help="load time per server (default 60, at most 900)")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads for both servers (default 2)")
    parser.add_argument("--n-ctx", type=int, default=2048, help="context size for both servers (default 2048)")
    parser.add_argument("--max-tokens", type=int, default=32, help="max_tokens per request (default 32)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="apps.serve's generations at once per key (HEARTH_SERVE_CONCURRENCY; default: --users, "
                             "so all users share one key without 429s; 0: the server's own default of 2)")
    parser.add_argument("--gguf", type=Path, default=None, help="GGUF file (default: the bundled SmolLM2)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="which servers, comma-separated (default both)")
    parser.add_argument("--out", type=Path, default=Path("out/load_test"), help="folder for load_test.json and .md")
    args = parser.parse_args(argv)
    if not (1 <= args.users <= 64 and 1 <= args.seconds <= 900):
        print("evals.load_test: keep --users within 1-64 and --seconds within 1-900 (a bounded, loopback-only run).",
              file=sys.stderr)
        return 2
    if args.concurrency is None:
        args.concurrency = args.users
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        print(f"evals.load_test: unknown --systems {unknown}; choose from {list(SYSTEMS)}.", file=sys.stderr)
        return 2
    if args.gguf is None:
        from models.bundled import smollm2_gguf_path

        args.gguf = smollm2_gguf_path()
    if not args.gguf.is_file():
        print(f"evals.load_test: no GGUF at {args.gguf}; pass --gguf PATH.", file=sys.stderr)
        return 2
    servers = {}
    with tempfile.TemporaryDirectory(prefix="load_test_") as tmp:
        for system in systems:
            print(f"{system}: {args.users} users for {args.seconds} s ...", flush=True)
            servers[system] = run_one(system, args, Path(tmp))
    report = {"config": {"users": args.users, "seconds": args.seconds, "threads": args.threads, "n_ctx": args.n_ctx,
                         "max_tokens": args.max_tokens, "hearth_concurrency_per_key": args.concurrency or 2, "gguf": str(args.gguf), "cpus": os.cpu_count()},
              "servers": servers,
              "ratios": ratios(servers["hearth"], servers["llama_cpp"]) if set(SYSTEMS) <= set(servers) else None,
              "note": "Servers run one after the other under the same locust load on loopback; the machine may be "
                      "shared with other work, which moves absolute numbers."}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load_test.json").write_text(json.dumps(report, indent=2))
    markdown = to_markdown(report)
    (args.out / "load_test.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
