"""Soak: keep the gateway busy for a bounded time and watch its memory, open files and threads.

    nice -n 19 python -m evals.soak --duration 600                # 10 minutes, 4 users, every layer on
    python -m evals.soak --duration 30 --warmup 10 --out out/soak_quick

The server is `evals.scripted_server` (apps.serve's app with keys from SQLite, metrics, JSONL
tracing and A/B routing, in front of a SCRIPTED model that answers at once), so the run exercises
the gateway, not a model, and thousands of requests fit in minutes. Each user loops over a mix:
6 of 10 plain chat completions, 3 streamed to the end, 1 streamed and abandoned after two chunks
(a client disconnect). The server's RSS, open file descriptors and threads are sampled every
--sample-s seconds. After --warmup seconds, growth is the median of the last tenth of the samples
against the median of the first tenth after warm-up; the run fails (exit 1) if RSS grew more than
--max-rss-growth-pct (default 5, the issue's bound), fds by more than --max-fd-growth, threads by
more than --max-thread-growth, or any request failed. JSON, markdown and a PNG of the curves under --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

MIX = ("plain",) * 6 + ("stream",) * 3 + ("abandon",)


def growth(samples: list[dict], warmup_s: float) -> dict:
    """Growth after warm-up of each sampled series: median of the last tenth of the samples
    against the median of the first tenth after warm-up (at least 3 samples each), plus the
    RSS slope (MB per 10 minutes, least squares).

    >>> rows = [{"t": t, "rss_mb": 100.0 + (t >= 10) * t / 10, "fds": 20, "threads": 8} for t in range(100)]
    >>> g = growth(rows, 10)
    >>> round(g["rss_growth_pct"], 1), g["fds_growth"], g["threads_growth"]
    (8.0, 0, 0)
    """
    after = [s for s in samples if s["t"] >= warmup_s]
    if len(after) < 6:
        raise ValueError(f"only {len(after)} samples after a {warmup_s:g} s warm-up; run longer (--duration) or "
                         "sample more often (--sample-s)")
    window = max(3, len(after) // 10)
    first, last = after[:window], after[-window:]

    def median(rows, key):
        return float(np.median([r[key] for r in rows]))

    base_rss, end_rss = median(first, "rss_mb"), median(last, "rss_mb")
    t = np.array([r["t"] for r in after])
    slope = float(np.polyfit(t, [r["rss_mb"] for r in after], 1)[0]) * 600 if np.ptp(t) > 0 else 0.0
    return {"samples_after_warmup": len(after), "window": window,
            "rss_base_mb": base_rss, "rss_end_mb": end_rss, "rss_max_mb": max(r["rss_mb"] for r in after),
            "rss_growth_pct": 100 * (end_rss - base_rss) / base_rss,
            "rss_slope_mb_per_10min": slope,
            "fds_base": median(first, "fds"), "fds_end": median(last, "fds"),
            "fds_growth": int(median(last, "fds") - median(first, "fds")),
            "threads_base": median(first, "threads"), "threads_end": median(last, "threads"),
            "threads_growth": int(median(last, "threads") - median(first, "threads"))}


class Sampler(threading.Thread):
    """The server's RSS (MB), open fds and threads every `every` seconds, with the load counters."""

    def __init__(self, pid: int, every: float, counts: dict):
        super().__init__(daemon=True)
        self.pid, self.every, self.counts = pid, every, counts
        self.samples: list[dict] = []
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        proc = psutil.Process(self.pid)
        started = time.monotonic()
        while not self._halt.is_set():
            try:
                with proc.oneshot():
                    self.samples.append({"t": round(time.monotonic() - started, 3),
                                         "rss_mb": proc.memory_info().rss / 2**20, "fds": proc.num_fds(),
                                         "threads": proc.num_threads(), "requests": self.counts["requests"],
                                         "errors": self.counts["errors"]})
            except psutil.Error:
                break
            self._halt.wait(self.every)

    def stop(self) -> list[dict]:
        self._halt.set()
        self.join(10)
        return self.samples


def user_loop(url: str, key: str | None, user: int, until: float, counts: dict, lock: threading.Lock,
              pause_s: float) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    i = 0
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        while time.monotonic() < until:
            kind = MIX[(i + user) % len(MIX)]
            body = {"model": "scripted", "user": f"u{user}-{i % 50}", "stream": kind != "plain",
                    "messages": [{"role": "user", "content": f"request {i} from user {user}"}]}
            ok, why = True, ""
            try:
                if kind == "plain":
                    response = client.post("/v1/chat/completions", json=body)
                    ok = response.status_code == 200 and response.json()["choices"][0]["message"]["content"]
                    why = f"plain: HTTP {response.status_code} {response.text[:120]}" if not ok else ""
                else:
                    with client.stream("POST", "/v1/chat/completions", json=body) as response:
                        ok = response.status_code == 200
                        seen, last = 0, ""
                        for line in response.iter_lines():
                            if line.startswith("data: "):
                                seen, last = seen + 1, line
                            if kind == "abandon" and seen >= 2:
                                break
                        if kind == "stream":
                            ok = ok and last == "data: [DONE]"
                        why = f"{kind}: HTTP {response.status_code}, last event {last[:120]!r}" if not ok else ""
            except httpx.HTTPError as exc:
                ok, why = False, f"{kind}: {type(exc).__name__}: {exc}"[:160]
            with lock:
                counts["requests"] += 1
                counts[kind] += 1
                counts["errors"] += 0 if ok else 1
                if why and len(counts.setdefault("error_examples", [])) < 5:
                    counts["error_examples"].append(why)
            i += 1
            if pause_s:
                time.sleep(pause_s)


def plot(samples: list[dict], warmup_s: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t"] / 60 for s in samples]
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    for ax, key, label in zip(axes, ("rss_mb", "fds", "threads"), ("RSS (MB)", "open fds", "threads")):
        ax.plot(t, [s[key] for s in samples], lw=1.2)
        ax.axvline(warmup_s / 60, color="grey", ls="--", lw=0.8)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_title(title, fontsize=10)
    axes[-1].set_xlabel("minutes (dashed: end of warm-up)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def to_markdown(report: dict) -> str:
    cfg, g, c = report["config"], report["growth"], report["counts"]
    verdict = "PASS" if report["passed"] else "FAIL: " + "; ".join(report["failures"])
    return "\n".join([
        f"# Soak: the gateway (layers: {', '.join(cfg['layers']) or 'none'}) with a scripted model, "
        f"{cfg['duration_s']:g} s, {cfg['users']} users", "",
        f"{c['requests']} requests ({c['plain']} plain, {c['stream']} streamed, {c['abandon']} abandoned "
        f"mid-stream), {c['errors']} failed; {c['requests'] / cfg['duration_s']:.1f} requests/s.", "",
        "| series | after warm-up | at the end | growth | bound |", "|---|---:|---:|---:|---:|",
        f"| RSS (MB) | {g['rss_base_mb']:.1f} | {g['rss_end_mb']:.1f} | {g['rss_growth_pct']:+.2f}% | "
        f"{cfg['max_rss_growth_pct']:g}% |",
        f"| open fds | {g['fds_base']:.0f} | {g['fds_end']:.0f} | {g['fds_growth']:+d} | {cfg['max_fd_growth']} |",
        f"| threads | {g['threads_base']:.0f} | {g['threads_end']:.0f} | {g['threads_growth']:+d} | "
        f"{cfg['max_thread_growth']} |", "",
        f"RSS slope after warm-up: {g['rss_slope_mb_per_10min']:+.2f} MB per 10 minutes (max {g['rss_max_mb']:.1f} MB). "
        f"Warm-up {cfg['warmup_s']:g} s; medians of {g['window']} samples at each end.", "",
        f"Result: {verdict}", "", report["note"], ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of load (default 600, at most 7200)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds not judged (default: a fifth of "
                        "--duration, at most 120)")
    parser.add_argument("--users", type=int, default=4, help="concurrent clients (default 4, at most 32)")
    parser.add_argument("--pause-ms", type=float, default=0.0, help="pause between a user's requests")
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between samples (default 5)")
    parser.add_argument("--layers", default="keys,metrics,tracing,ab", help="gateway layers on (default all)")
    parser.add_argument("--max-rss-growth-pct", type=float, default=5.0)
    parser.add_argument("--max-fd-growth", type=int, default=10)
    parser.add_argument("--max-thread-growth", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("out/soak"), help="folder for soak.json, .md and .png")
    args = parser.parse_args(argv)
    if not (1 <= args.duration <= 7200 and 1 <= args.users <= 32 and args.sample_s > 0):
        print("evals.soak: keep --duration within 1-7200 s, --users within 1-32 and --sample-s above 0.",
              file=sys.stderr)
        return 2
    warmup = min(args.duration / 5, 120) if args.warmup is None else args.warmup
    layers = [x.strip() for x in args.layers.split(",") if x.strip()]
    from evals.scripted_server import free_port, layer_args, start, stop

    counts = {"requests": 0, "errors": 0, **{k: 0 for k in set(MIX)}}
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="soak_") as tmp:
        try:
            flags, key = layer_args(set(layers), Path(tmp))
        except ValueError as exc:
            print(f"evals.soak: {exc}", file=sys.stderr)
            return 2
        port = free_port()
        log = Path(tmp) / "server.log"
        # Twice the users: a stream its client hung up on holds its slot until the server's next chunk
        # finds the socket closed (a few ms), and the same user's next request may arrive first.
        proc = start([*flags, "--reply-words", "16", "--chunk-delay-ms", "5", "--concurrency", str(2 * args.users)],
                     port, log)
        try:
            sampler = Sampler(proc.pid, args.sample_s, counts)
            sampler.start()
            started = time.monotonic()
            until = started + args.duration
            users = [threading.Thread(target=user_loop, daemon=True,
                                      args=(f"http://127.0.0.1:{port}", key, u, until, counts, lock,
                                            args.pause_ms / 1000)) for u in range(args.users)]
            for user in users:
                user.start()
            for user in users:
                user.join(args.duration + 120)
            elapsed = time.monotonic() - started
            samples = sampler.stop()
        finally:
            code = stop(proc)
        server_log = log.read_text()
    g = growth(samples, warmup)
    failures = []
    if g["rss_growth_pct"] > args.max_rss_growth_pct:
        failures.append(f"RSS grew {g['rss_growth_pct']:.2f}% > {args.max_rss_growth_pct:g}%")
    if g["fds_growth"] > args.max_fd_growth:
        failures.append(f"open fds grew by {g['fds_growth']} > {args.max_fd_growth}")
    if g["threads_growth"] > args.max_thread_growth:
        failures.append(f"threads grew by {g['threads_growth']} > {args.max_thread_growth}")
    if counts["errors"]:
        failures.append(f"{counts['errors']} requests failed, e.g. " + "; ".join(counts.get("error_examples", [])[:3]))
    if "Traceback" in server_log:
        failures.append("the server log has a traceback")
    report = {"config": {"duration_s": args.duration, "elapsed_s": elapsed, "warmup_s": warmup, "users": args.users,
                         "pause_ms": args.pause_ms, "sample_s": args.sample_s, "layers": layers,
                         "max_rss_growth_pct": args.max_rss_growth_pct, "max_fd_growth": args.max_fd_growth,
                         "max_thread_growth": args.max_thread_growth},
              "counts": counts, "growth": g, "passed": not failures, "failures": failures,
              "server_exit_code": code, "samples": samples,
              "note": "Loopback, scripted model (no weights), client and server on the same machine; the machine "
                      "may be shared with other work, which moves the request rate, not the growth bound."}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(report, indent=2))
    markdown = to_markdown(report)
    (args.out / "soak.md").write_text(markdown)
    plot(samples, warmup, args.out / "soak.png",
         f"gateway soak, {args.users} users, {counts['requests']} requests, RSS {g['rss_growth_pct']:+.2f}% after warm-up")
    print(markdown)
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
