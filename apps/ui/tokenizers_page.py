"""Streamlit page: one text, six tokenizers, coloured token boundaries and counts.
Start it with `python -m apps.tokenizers`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root (see apps/ui/__init__.py)

import models  # noqa: E402,F401  (offline switches first)
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from training.tokenizers.compare import (SAMPLE_TEXT, available_tokenizers, compare_tokenizers,  # noqa: E402
                                         tokenize_for_display, tokens_html)

st.set_page_config(page_title="Tokenizers side by side", layout="wide")
st.title("Tokenizers side by side")
st.caption("Our byte-level BPE (trained on legal opinions), SentencePiece (English + German), BERT WordPiece, "
           "SmolLM2's GGUF vocabulary, GPT-4's cl100k_base and GPT-4o's o200k_base on the same text.")

with st.sidebar:
    st.header("Tokenizers")
    preselected = [n for n in os.environ.get("HEARTH_TOKENIZERS", "").split(",") if n in available_tokenizers()]
    names = st.multiselect("Show", available_tokenizers(), default=preselected or available_tokenizers())
    bpe_path = st.text_input(
        "Our BPE model (.model)", os.environ.get("HEARTH_BPE_PATH", ""),
        help="Empty: a 4096-token model trained on the legal opinions, cached in .hearth/tokenizers").strip()

text = st.text_area("Text", SAMPLE_TEXT, height=180)
if not text:
    st.info("Type or paste some text to tokenize.")
    st.stop()
if not names:
    st.info("Pick at least one tokenizer in the sidebar.")
    st.stop()

try:
    with st.spinner("Loading tokenizers (the first run trains our BPE and SentencePiece, a few seconds)…"):
        rows = compare_tokenizers(text, names, bpe_path=bpe_path or None)
except (ValueError, FileNotFoundError) as exc:
    st.error(str(exc))
    st.stop()

table = pd.DataFrame([vars(r) for r in rows]).set_index("name")
st.dataframe(table.style.format({"tokens_per_word": "{:.2f}", "chars_per_token": "{:.2f}"}), width="stretch")
st.bar_chart(table["tokens"], horizontal=True, height=220)

for row in rows:
    tokens = tokenize_for_display(row.name, text, bpe_path=bpe_path or None)
    flags = [] if row.round_trip_exact else ["round trip is not exact"]
    flags += [f"{row.unknown_tokens} unknown"] if row.unknown_tokens else []
    st.markdown(f"**{row.name}** · {row.tokens} tokens" + "".join(f" · :red[{f}]" for f in flags))
    st.markdown(tokens_html(tokens), unsafe_allow_html=True)
