"""mini-GPT: a small decoder-only transformer trained from scratch on CPU.

    python -m training.minigpt.train --data alice --steps 300      # pretrain (checkpoint, loss.png, mlruns)
    python -m training.minigpt.sample --checkpoint out/minigpt/alice-rope --prompt "Alice "
    python -m training.minigpt.study --quick                        # RoPE vs ALiBi past the training length
"""
