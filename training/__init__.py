"""Training labs, one readable file per idea (BPE, n-gram, mini-GPT, LoRA, DPO, quantization)."""
