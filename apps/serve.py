"""Any configured model as an OpenAI-compatible HTTP server.

    python -m apps.serve                                    # local chat + local embeddings on :8008
    python -m apps.serve --model local --embeddings local --host 127.0.0.1 --port 8008
    python -m apps.serve --model ollama:qwen2.5:7b --api-key s3cret
    python -m apps.serve --host 0.0.0.0 --api-key "$(cat my.key)"   # beyond loopback a key must be given
    python -m apps.serve --keys-db postgresql://hearth:hearth@127.0.0.1:5432/hearth   # keys from apps.keys, limits shared
    HEARTH_MODEL=gguf:/models/qwen.gguf python -m apps.serve  # defaults: HEARTH_MODEL, HEARTH_EMBEDDINGS

Endpoints: GET /v1/models, POST /v1/chat/completions (streaming, tools, response_format),
POST /v1/completions (text; `logprobs` and `echo` give prompt token log-probabilities, for
lm-eval's local-completions), POST /v1/embeddings (float or base64), GET /metrics (Prometheus),
GET /health. The model id to send is the spec
("local" for the default; the bundled models also answer to "smollm2" and "minilm"), or a
name given with --served-model-name; an unknown name is answered 404 `model_not_found`.

There are no default secrets: without --api-key (or $HEARTH_API_KEY) the first start generates
a key, prints it once and keeps it owner-only in .hearth/secrets/serve.key; binding beyond
loopback without a given key is refused. On SIGTERM open streams get HEARTH_SERVE_SHUTDOWN_GRACE_S
(default 10) seconds to finish, then end with a `server_shutting_down` error event
(`models.serving.shutdown`); a client that disconnects mid-stream stops its generation. Caps (body size, messages, max_tokens, generations
at once per key, time per request) are in `models.serving.limits` (HEARTH_SERVE_* variables).

    curl http://127.0.0.1:8008/v1/chat/completions -H 'Content-Type: application/json' \\
         -H "Authorization: Bearer $(cat .hearth/secrets/serve.key)" \\
         -d '{"model": "local", "messages": [{"role": "user", "content": "Say hi"}]}'

From LangChain:

    from langchain_openai import ChatOpenAI
    llm = ChatOpenAI(model="local", base_url="http://127.0.0.1:8008/v1", api_key=KEY)

From this project's own providers (on loopback they find the stored key by themselves):

    from models import load_chat_model, load_embeddings
    llm = load_chat_model("openai:local@http://127.0.0.1:8008/v1")
    emb = load_embeddings("openai:local@http://127.0.0.1:8008/v1")
    # any other key: "openai:local@http://HOST:8008/v1?api_key=KEY" (or $HEARTH_API_KEY)

A/B routing (chat completions): a share of users gets another system prompt or another model,
sticky per user (the request's `user` field, else the API key), or pinned by key name:

    python -m apps.serve --ab "B=prompt:prompts/concise.txt@20%"     # 20% of users: this system prompt
    python -m apps.serve --ab "B=gguf:/models/other.gguf@50%" --ab-pin alice=B --ab-log /tmp/ab.jsonl
    curl .../v1/feedback -H "Authorization: Bearer KEY" -d '{"response_id": "chatcmpl-...", "score": 1}'
    python -m evals.ab --log .hearth/ab/ab_log.jsonl                 # per-variant latency, errors, feedback

Each routed answer carries the headers `x-hearth-variant` and `x-hearth-response-id`; /metrics
counts `hearth_ab_requests_total{variant=...}`; traces carry `hearth.variant`; the A/B log
(default .hearth/ab/ab_log.jsonl) holds one line per response and per feedback, with a hashed user.
See `models.serving.ab` for the rules.

With the in-process models (`local`, `gguf:`) tool calls and response_format are decoded
under a grammar, so a client always gets schema-valid JSON back.
"""

from __future__ import annotations

import argparse
import os
import sys

from models.serving.app import create_app
from models.serving.errors import APIError
from models.serving.served import ServedModels, display_name

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8008

__all__ = ["create_app", "display_name", "APIError", "ServedModels", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.serve",
                                     description="Serve a model over an OpenAI-compatible HTTP API.")
    parser.add_argument("--model", default=os.environ.get("HEARTH_MODEL", "local"),
                        help="chat model spec (default: $HEARTH_MODEL or 'local')")
    parser.add_argument("--embeddings", default=os.environ.get("HEARTH_EMBEDDINGS", "local"),
                        help="embeddings spec (default: $HEARTH_EMBEDDINGS or 'local')")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--api-key", default=os.environ.get("HEARTH_API_KEY"),
                        help="the key clients send as 'Authorization: Bearer KEY' on /v1 (default: $HEARTH_API_KEY, "
                             "else one generated on first start and kept in .hearth/secrets/serve.key)")
    parser.add_argument("--keys-db", default=os.environ.get("HEARTH_KEYS_DB"), metavar="URL",
                        help="also accept keys made with `python -m apps.keys` (per-key limits; sqlite:///PATH or "
                             "postgresql://..., shared by servers on one database; default $HEARTH_KEYS_DB)")
    parser.add_argument("--served-model-name", action="append", default=[], metavar="NAME",
                        help="another name clients may send as `model` for the chat model (repeatable)")
    parser.add_argument("--ab", action="append", default=[], metavar="NAME=TARGET@PCT%",
                        help="A/B variant: TARGET is prompt:FILE (a system prompt) or a model spec; the rest of the "
                             "users get variant A, the server's --model (repeatable)")
    parser.add_argument("--ab-pin", action="append", default=[], metavar="KEYNAME=VARIANT",
                        help="send every request of this key (its apps.keys name) to one variant (repeatable)")
    parser.add_argument("--ab-log", default=None, metavar="PATH",
                        help="A/B log of responses and feedback (JSONL; default .hearth/ab/ab_log.jsonl)")
    args = parser.parse_args(argv)

    from models.spec import EMBEDDING_PROVIDERS, ModelSpecError, parse_model_spec  # also sets offline switches

    try:
        parse_model_spec(args.model)
        parse_model_spec(args.embeddings, providers=EMBEDDING_PROVIDERS)
    except ModelSpecError as exc:
        print(f"apps.serve: {exc}", file=sys.stderr)
        return 2
    router = None
    if args.ab or args.ab_pin:
        from models.serving.ab import ABConfigError, ABRouter

        if not args.ab:
            print("apps.serve: --ab-pin needs at least one --ab variant, e.g. --ab \"B=prompt:b.txt@20%\".",
                  file=sys.stderr)
            return 2
        try:
            router = ABRouter.from_flags(args.ab, args.ab_pin)
        except ABConfigError as exc:
            print(f"apps.serve: {exc}", file=sys.stderr)
            return 2
    from models.serving.keys import InsecureBindError, resolve_secret
    from models.serving.limits import ServerLimits

    key_store = None
    if args.keys_db:
        from models.serving.keystore import open_key_store

        key_store = open_key_store(args.keys_db)
        api_key, notice = (args.api_key or None), f"keys from {args.keys_db}" + (" and the given key" if args.api_key else "")
    else:
        try:
            api_key, notice = resolve_secret("serve", args.api_key, args.host,
                                             fix="--api-key KEY, HEARTH_API_KEY=KEY or --keys-db URL")
        except InsecureBindError as exc:
            print(f"apps.serve: {exc}", file=sys.stderr)
            return 2
    import models  # noqa: F401  (offline runtime before anything loads)
    from models.serving.shutdown import grace_from_env, serve

    app = create_app(args.model, args.embeddings, api_key=api_key, served_names=tuple(args.served_model_name),
                     limits=ServerLimits.from_env(), key_store=key_store, ab=router, ab_log=args.ab_log)
    if router is not None:
        print(f"A/B routing: {router.describe()} (log: {app.state.gateway.ab_log.path})", flush=True)
    print(f"Serving {display_name(args.model)} at http://{args.host}:{args.port}/v1 (API key: {notice})", flush=True)
    try:
        grace = grace_from_env()
    except ValueError as exc:
        print(f"apps.serve: {exc}", file=sys.stderr)
        return 2
    serve(app, args.host, args.port, grace_s=grace)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
