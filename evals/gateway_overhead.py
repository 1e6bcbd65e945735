"""What the gateway adds per request: the same SCRIPTED model called in-process and through
apps.serve's app over loopback HTTP, with each gateway layer on alone and all together.

    nice -n 19 python -m evals.gateway_overhead                       # 2,000 rounds, every configuration
    python -m evals.gateway_overhead --requests 300 --configs bare,all --out out/gateway_overhead_quick
    python -m evals.gateway_overhead --requests 1000 --configs bare,all --client stdlib,httpx   # both clients
    git worktree add --detach /tmp/hearth_main main          # the same figures for another checkout,
    python -m evals.gateway_overhead --requests 300 --against /tmp/hearth_main   # interleaved in the same run

The model (evals.scripted_server.ScriptedChatModel) answers 8 fixed words at once, so its own
time is near zero and what remains is the gateway's. Configurations, each a server process:
`bare` (no key, no metrics, no tracing, no A/B: FastAPI, validation, LangChain conversion, HTTP),
`keys` (a key from the SQLite key store with requests/min, tokens/min and a daily quota checked
and charged on every request), `metrics` (Prometheus), `tracing` (OpenTelemetry spans to JSONL),
`ab` (A/B routing with a system-prompt variant and its log), `all` (every layer). The baseline
`in_process` is `model.invoke(messages)` in this process.

Requests are interleaved, one per configuration per round in a shuffled order, so a neighbour's
load hits every configuration alike. Reported per configuration: p50/p95/mean latency, the added
latency over in-process (difference of the p50s and p95s, and the median of the paired per-round
differences with a 95% bootstrap interval), the added latency of the layers over `bare`, and
the server's CPU time per request (from the process's own counters, which move far less with
load than wall time) and the client's (its thread's CPU time). The client is http.client on a
kept-alive connection by default, so the added figure is the server's and the wire's; `--client
httpx` times the client the OpenAI SDK uses, whose own CPU time is part of its added figure.
Target (issue 17): `all` adds at most 3 ms p50 over in-process.

`--against DIR` also starts every configuration from another checkout (rows `NAME@against`),
interleaved with this checkout's in the same rounds, so a change to the gateway is compared
with its base under the same load (on a busy machine, the only fair way to time it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONFIGS = {"bare": (), "keys": ("keys",), "metrics": ("metrics",), "tracing": ("tracing",), "ab": ("ab",),
           "all": ("keys", "metrics", "tracing", "ab")}
TARGET_P50_MS = 3.0
CLIENTS = ("stdlib", "httpx")


class LoopbackClient:
    """One kept-alive connection to a server on loopback that POSTs JSON and returns the status.
    `stdlib`: http.client, the leanest Python client (what remains is the server's and the wire's
    cost); `httpx`: the client under the OpenAI SDK (about half a millisecond more of its own CPU
    per request, measured in the `client CPU` column)."""

    def __init__(self, kind: str, port: int, headers: dict[str, str]):
        if kind not in CLIENTS:
            raise ValueError(f"unknown client {kind!r}; choose from {list(CLIENTS)}")
        self.kind = kind
        self.headers = {"Content-Type": "application/json", **headers}
        if kind == "httpx":
            import httpx

            self._client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, headers=headers)
        else:
            import http.client

            self._client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: dict) -> int:
        if self.kind == "httpx":
            return self._client.post(path, json=body).status_code
        self._client.request("POST", path, json.dumps(body).encode(), self.headers)
        response = self._client.getresponse()
        response.read()
        return response.status

    def close(self) -> None:
        self._client.close()


def base_config(label: str) -> str:
    """The configuration a row label names: `all@against via httpx` -> `all`.

    >>> base_config("all@against via httpx"), base_config("keys")
    ('all', 'keys')
    """
    return label.split("@")[0].split(" ")[0]


def paired_median(a: list[float], b: list[float], *, seed: int = 0, boots: int = 2000) -> dict:
    """Median of the per-round differences a[i] - b[i] with a 95% bootstrap interval.

    >>> r = paired_median([3.0, 4.0, 5.0, 4.0], [1.0, 1.0, 2.0, 1.0])
    >>> r["median"], r["low"] <= r["median"] <= r["high"]
    (3.0, True)
    """
    d = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(seed)
    meds = np.median(d[rng.integers(0, len(d), size=(boots, len(d)))], axis=1)
    return {"median": float(np.median(d)), "low": float(np.percentile(meds, 2.5)),
            "high": float(np.percentile(meds, 97.5))}


def summarize(times_ms: dict[str, list[float]], cpu_ms: dict[str, float | None],
              client_cpu_ms: dict[str, float] | None = None) -> dict:
    """Per-configuration figures from the per-round latencies (ms); `in_process` is the baseline.
    `client_cpu_ms`: the client's own CPU time per request, by row (the in-process call's is the
    model's)."""
    base = times_ms["in_process"]
    out = {}
    for name, t in times_ms.items():
        row = {"n": len(t), "p50_ms": float(np.percentile(t, 50)), "p95_ms": float(np.percentile(t, 95)),
               "mean_ms": float(np.mean(t)), "server_cpu_ms_per_request": cpu_ms.get(name),
               "client_cpu_ms_per_request": (client_cpu_ms or {}).get(name)}
        if name != "in_process":
            row["added_p50_ms"] = row["p50_ms"] - float(np.percentile(base, 50))
            row["added_p95_ms"] = row["p95_ms"] - float(np.percentile(base, 95))
            row["added_paired"] = paired_median(t, base)
            bare = "bare" + name[len(base_config(name)):]   # the same checkout's and client's bare
            if name != bare and bare in times_ms:
                row["layers_over_bare_paired"] = paired_median(t, times_ms[bare])
                bare_cpu = cpu_ms.get(bare)
                row["layers_cpu_ms_per_request"] = (cpu_ms[name] - bare_cpu) if cpu_ms.get(name) is not None \
                    and bare_cpu is not None else None
        out[name] = row
    return out


def to_markdown(report: dict) -> str:
    cfg, rows = report["config"], report["results"]

    def f(v, d=2):
        return "-" if v is None else f"{v:.{d}f}"

    lines = [f"# Gateway overhead: scripted model in-process vs through apps.serve ({cfg['requests']} interleaved "
             f"rounds, loopback, {cfg['cpus']} CPUs, niceness {cfg['niceness']})", "",
             "| configuration | p50 ms | p95 ms | added p50 ms | added p95 ms | paired added median ms [95% CI] | "
             "layers over bare ms [95% CI] | server CPU ms/request | client CPU ms/request |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        paired = r.get("added_paired")
        layers = r.get("layers_over_bare_paired")
        lines.append(f"| {name} | {f(r['p50_ms'])} | {f(r['p95_ms'])} | {f(r.get('added_p50_ms'))} | "
                     f"{f(r.get('added_p95_ms'))} | "
                     + (f"{f(paired['median'])} [{f(paired['low'])}, {f(paired['high'])}]" if paired else "-") + " | "
                     + (f"{f(layers['median'])} [{f(layers['low'])}, {f(layers['high'])}]" if layers else "-") + " | "
                     + f"{f(r.get('server_cpu_ms_per_request'))} | {f(r.get('client_cpu_ms_per_request'))} |")
    for verdict in report.get("targets") or []:
        lines += ["", f"Target: every layer on (`{verdict['row']}`, client {verdict['client']}) adds at most "
                      f"{TARGET_P50_MS:g} ms p50 over in-process: {verdict['added_p50_ms']:.2f} ms, "
                      f"{'met' if verdict['met'] else 'missed'}."]
    lines += ["", report["note"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.gateway_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="rounds (one request per configuration each; "
                        "default 2000, at most 50000)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured requests per configuration first")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {list(CONFIGS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out/gateway_overhead"),
                        help="folder for gateway_overhead.json and .md")
    parser.add_argument("--client", default="stdlib", help="comma-separated HTTP clients, from "
                        f"{list(CLIENTS)} (default stdlib: http.client, the leanest; httpx is what the OpenAI SDK "
                        "uses); with more than one, each configuration is timed with each, rows `NAME via CLIENT`")
    parser.add_argument("--against", type=Path, default=None, metavar="DIR",
                        help="another checkout (e.g. a git worktree of main): its servers run in the same rounds, "
                             "rows NAME@against")
    args = parser.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown or not configs:
        print(f"evals.gateway_overhead: unknown --configs {unknown}; choose from {list(CONFIGS)}.", file=sys.stderr)
        return 2
    client_kinds = [c.strip() for c in args.client.split(",") if c.strip()]
    if not client_kinds or any(c not in CLIENTS for c in client_kinds):
        print(f"evals.gateway_overhead: unknown --client {args.client!r}; choose from {list(CLIENTS)}.",
              file=sys.stderr)
        return 2
    if args.against is not None and not (args.against / "evals" / "scripted_server.py").is_file():
        print(f"evals.gateway_overhead: --against {args.against} is not a checkout of this project (no "
              "evals/scripted_server.py there); make one with `git worktree add --detach DIR main`.", file=sys.stderr)
        return 2
    if not 10 <= args.requests <= 50_000:
        print("evals.gateway_overhead: keep --requests within 10-50000.", file=sys.stderr)
        return 2
    import signal

    import psutil

    # `timeout` and CI stop a run with SIGTERM: unwind through `finally` so the servers stop too
    # (they run in their own sessions and would outlive the run otherwise).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from langchain_core.messages import HumanMessage

    from evals.scripted_server import ScriptedChatModel, free_port, layer_args, start, stop

    text = "How many days of annual leave do I get?"
    body = {"model": "scripted", "messages": [{"role": "user", "content": text}]}
    model = ScriptedChatModel(reply_words=8)
    messages = [HumanMessage(content=text)]
    started_at = time.time()
    with tempfile.TemporaryDirectory(prefix="gateway_overhead_") as tmp:
        servers, clients, procs = {}, {}, []
        try:
            runs = [(name, name, None) for name in configs]
            if args.against is not None:
                runs += [(f"{name}@against", name, args.against) for name in configs]
            for label, name, root in runs:
                workdir = Path(tmp) / label
                workdir.mkdir()
                flags, key = layer_args(set(CONFIGS[name]), workdir)
                port = free_port()
                proc = start(flags, port, workdir / "server.log", root=root)
                procs.append(proc)
                for kind in client_kinds:
                    row = label if len(client_kinds) == 1 else f"{label} via {kind}"
                    servers[row] = proc
                    clients[row] = LoopbackClient(kind, port, {"Authorization": f"Bearer {key}"} if key else {})
            print(f"{len(procs)} servers up; {args.warmup} warm-up requests each ...", flush=True)
            for name, client in clients.items():
                for i in range(args.warmup):
                    status = client.post("/v1/chat/completions", {**body, "user": f"warm{i}"})
                    if status != 200:
                        raise RuntimeError(f"{name}: warm-up request answered {status}; see its server.log")
            for _ in range(args.warmup):
                model.invoke(messages)
            order = ["in_process", *clients]
            times: dict[str, list[float]] = {name: [] for name in order}
            client_cpu = {name: 0.0 for name in order}
            # a server timed by two clients is one process: its CPU is split between their rows below
            cpu_before = {name: sum(psutil.Process(p.pid).cpu_times()[:2]) for name, p in servers.items()}
            rng = random.Random(args.seed)
            errors = 0
            for i in range(args.requests):
                rng.shuffle(order)
                for name in order:
                    c0, t0 = time.thread_time(), time.perf_counter()
                    if name == "in_process":
                        reply = model.invoke(messages)
                        ok = bool(reply.content)
                    else:
                        ok = clients[name].post("/v1/chat/completions", {**body, "user": f"user{i % 100}"}) == 200
                    times[name].append((time.perf_counter() - t0) * 1000)
                    client_cpu[name] += time.thread_time() - c0
                    errors += 0 if ok else 1
                if (i + 1) % 500 == 0:
                    print(f"  {i + 1}/{args.requests} rounds", flush=True)
            cpu_ms = {name: 1000 * (sum(psutil.Process(p.pid).cpu_times()[:2]) - cpu_before[name])
                      / (args.requests * len(client_kinds)) for name, p in servers.items()}
            client_cpu_ms = {name: 1000 * seconds / args.requests for name, seconds in client_cpu.items()}
        finally:
            for client in clients.values():
                client.close()
            for proc in procs:
                stop(proc)
    results = summarize(times, cpu_ms, client_cpu_ms)
    targets = [{"row": row, "client": kind, "added_p50_ms": results[row]["added_p50_ms"],
                "met": results[row]["added_p50_ms"] <= TARGET_P50_MS}
               for kind in client_kinds
               for row in [("all" if len(client_kinds) == 1 else f"all via {kind}")] if row in results]
    report = {"config": {"requests": args.requests, "warmup": args.warmup, "configs": configs, "seed": args.seed,
                         "clients": client_kinds,
                         "against": str(args.against) if args.against else None,
                         "cpus": os.cpu_count(), "niceness": os.nice(0), "errors": errors,
                         "load_average": os.getloadavg(), "wall_s": time.time() - started_at,
                         "model": "evals.scripted_server.ScriptedChatModel (8 words, no weights)"},
              "results": results,
              "targets": targets,
              "note": "Client and servers share this machine (loopback); on a machine busy with other work every "
                      "wall-clock figure includes waiting for a core. Interleaving spreads that wait over every "
                      "configuration; the server CPU time per request does not include it. The added latency includes "
                      "the client's own CPU time (its column); the in-process row's is the model call's."}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gateway_overhead.json").write_text(json.dumps(report, indent=2))
    markdown = to_markdown(report)
    (args.out / "gateway_overhead.md").write_text(markdown)
    print(markdown)
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
