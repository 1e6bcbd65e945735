"""Tokenization labs: byte-level BPE from scratch, SentencePiece on mixed languages, and a
side-by-side comparison with the tokenizers real models use.

    python -m training.tokenizers.bpe --data legal --vocab-size 2000 --out .hearth/tokenizers/legal
    python -m training.tokenizers.sentencepiece_lab --vocab-size 4000
    python -m apps.tokenizers --text "Hello, Welt! 👋"       # comparison table
    python -m evals.tokenizers --data legal                 # trainer benchmark vs Hugging Face

One file per idea: `pretokenize` (the GPT-4 regex pre-split), `bpe` (trainer + tokenizer),
`naive_bpe` (the slow reference trainer), `sentencepiece_lab`, `compare`.
"""
