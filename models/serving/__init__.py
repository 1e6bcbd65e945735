"""The OpenAI-compatible server's parts (`python -m apps.serve` only parses arguments and starts it):

    app.py        create_app: error handlers, API-key check, model list, chat completions, embeddings
    schemas.py    request bodies          convert.py    OpenAI <-> LangChain messages, replies, options
    streaming.py  server-sent events      served.py     the models behind the server, and their names
    errors.py     OpenAI-shaped errors    limits.py     body, message, max_tokens, concurrency, time caps
    keys.py       generated secrets (no defaults), loopback checks, key hashing
"""
