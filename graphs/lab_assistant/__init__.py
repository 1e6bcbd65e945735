"""Lab assistant: runs the training labs (tokenizers, n-grams, mini-GPT) from plain-language requests."""
