"""Prometheus metrics of the server (`GET /metrics`), one registry per app.

    hearth_requests_total{route, model, key, status}      requests answered
    hearth_errors_total{route, model, key, status}        the ones answered with 4xx/5xx
    hearth_request_seconds{route, model}                  latency to the response's start (histogram)
    hearth_time_to_first_token_seconds{model}             streamed chat: request to first token (histogram)
    hearth_tokens_total{model, key, kind}                 prompt / completion tokens
    hearth_decode_tokens_per_second{model}                completion tokens / generation time (histogram)
    hearth_generations_in_flight                          generations running now (queue depth)
    hearth_model_loads_total{model, kind}                 model load events

Labels carry key *names* (never keys) and model ids as clients send them.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ServerMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("hearth_requests", "Requests answered.", ["route", "model", "key", "status"], registry=r)
        self.errors = Counter("hearth_errors", "Requests answered with an error.", ["route", "model", "key", "status"],
                              registry=r)
        self.latency = Histogram("hearth_request_seconds", "Time to the response's start.", ["route", "model"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("hearth_time_to_first_token_seconds", "Streamed chat: request to first token.",
                              ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("hearth_tokens", "Tokens processed.", ["model", "key", "kind"], registry=r)
        self.decode_rate = Histogram("hearth_decode_tokens_per_second", "Completion tokens per second of generation.",
                                     ["model"], buckets=(1, 5, 10, 20, 40, 80, 160, 320), registry=r)
        self.in_flight = Gauge("hearth_generations_in_flight", "Generations running now.", registry=r)
        self.model_loads = Counter("hearth_model_loads", "Model load events.", ["model", "kind"], registry=r)

    def record_response(self, route: str, model: str, key: str, status: int, seconds: float) -> None:
        self.requests.labels(route, model, key, str(status)).inc()
        if status >= 400:
            self.errors.labels(route, model, key, str(status)).inc()
        self.latency.labels(route, model).observe(seconds)

    def record_tokens(self, model: str, key: str, usage: dict, seconds: float | None = None) -> None:
        prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        if prompt:
            self.tokens.labels(model, key, "prompt").inc(prompt)
        if completion:
            self.tokens.labels(model, key, "completion").inc(completion)
            if seconds:
                self.decode_rate.labels(model).observe(completion / seconds)

    def scrape(self) -> bytes:
        return generate_latest(self.registry)


class Timer:
    def __init__(self):
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.started
