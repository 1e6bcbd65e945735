"""A reward model that is a linear probe on a frozen causal model: `training.reward_model --method probe`.

    python -m training.reward_model --method probe --max-length 128        # all 1,614 train pairs, ~10 min on 2 cores

The causal model reads each (dialogue, answer) once, with no gradients. At a few depths of its
stack (by default about 40%, 67%, 87% and 100% of the blocks: 12, 20, 26, 30 of SmolLM2-135M's 30)
the hidden states are pooled two ways, the mean over the answer's tokens and the last token, and
concatenated into one feature vector (4 x 2 x 576 = 4,608 numbers for the bundled model). The same
forward pass gives the answer's mean log-likelihood, the baseline every reward model is compared
with, so that baseline costs nothing extra.

The reward is a Bradley-Terry model, r(answer) = w . (features / scale): a logistic regression on
feature differences (chosen minus rejected, and the mirrored pair) with no intercept, so it is
symmetric in the two answers by construction. `scale` is each feature's spread over the training
differences; the L2 strength C is chosen on the validation part from `C_GRID` and the test part is
never looked at before the table is written. This is the head-only reward model fitted in closed
form: RewardTrainer's loss on frozen features, solved exactly instead of by a few hundred noisy
steps, and on every layer's view instead of the last token of the last layer only.

Features are cached under $HEARTH_HOME/finetune/reward/features/ by (model, data hash, split seed,
part, length, layers): a second run with other C values or limits fits in seconds.
The saved probe (`probe.json` + `probe.npz` in the run's model/ folder) names the causal model it
reads; `training.reward_model.load_reward_model` loads either kind.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Optional

import numpy as np

C_GRID = (1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 1e-1)
PROBE_FILE = "probe.json"


def default_layers(n_blocks: int) -> list[int]:
    """Hidden-state indices to read for a stack of `n_blocks` (index 0 is the embeddings).

    >>> default_layers(30)
    [12, 20, 26, 30]
    """
    return sorted({max(1, round(n_blocks * f)) for f in (0.4, 0.67, 0.87)} | {n_blocks})


def answer_features(causal, sequences: list[tuple[list[int], int]], layers: list[int], pad_id: int,
                    batch_size: int = 16, desc: Optional[str] = None) -> tuple[np.ndarray, np.ndarray]:
    """(features [n, len(layers) * 2 * hidden], mean answer log-likelihood [n]) for (ids, answer start)
    pairs: per layer the mean over the answer tokens and the last token. Right-padded batches,
    sorted by length; the LM head runs on answer positions only."""
    import torch
    from tqdm import tqdm

    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i][0]))
    hidden_size = causal.config.hidden_size
    features = np.zeros((len(sequences), len(layers) * 2 * hidden_size), dtype=np.float32)
    loglik = np.zeros(len(sequences), dtype=np.float32)
    trunk, head = causal.get_decoder(), causal.get_output_embeddings()
    causal.eval()
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    with torch.inference_mode():
        for batch in tqdm(batches, desc=desc or "features", file=sys.stderr, disable=desc is None):
            width = max(len(sequences[i][0]) for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                seq = sequences[i][0]
                ids[row, :len(seq)] = torch.tensor(seq)
                mask[row, :len(seq)] = 1
            states = trunk(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            for row, i in enumerate(batch):
                seq, start = sequences[i]
                end = len(seq)
                start = min(max(1, start), end - 1)
                pooled = []
                for layer in layers:
                    h = states[layer][row]
                    pooled += [h[start:end].mean(dim=0), h[end - 1]]
                features[i] = torch.cat(pooled).float().numpy()
                logits = head(states[-1][row, start - 1:end - 1]).float()
                logp = torch.log_softmax(logits, dim=-1).gather(1, ids[row, start:end].unsqueeze(1))
                loglik[i] = float(logp.mean())
    return features, loglik


def fit_probe(train_diff: np.ndarray, val_diff: np.ndarray, grid=C_GRID, seed: int = 0) -> dict:
    """Logistic regression on (chosen - rejected) feature differences and their mirror, no intercept,
    C chosen by validation pairwise accuracy. Returns {weight, scale, C, validation: {C: accuracy}}.

    >>> rng = np.random.default_rng(0); w = rng.normal(size=8)
    >>> d = rng.normal(size=(200, 8)); d *= np.sign(d @ w)[:, None]      # chosen always scores higher by w
    >>> fit = fit_probe(d[:150], d[150:], grid=(0.1, 1.0))
    >>> bool(np.mean((d[150:] / fit["scale"]) @ fit["weight"] > 0) > 0.9)
    True
    """
    from sklearn.linear_model import LogisticRegression

    scale = train_diff.std(axis=0)
    scale[scale < 1e-8] = 1.0
    x = np.vstack([train_diff, -train_diff]) / scale
    y = np.r_[np.ones(len(train_diff)), np.zeros(len(train_diff))]
    validation, best = {}, None
    for c in grid:
        model = LogisticRegression(C=c, fit_intercept=False, max_iter=2000, random_state=seed).fit(x, y)
        weight = model.coef_[0]
        accuracy = float(np.mean((val_diff / scale) @ weight > 0)) if len(val_diff) else 0.0
        validation[c] = round(accuracy, 4)
        if best is None or accuracy > best[0]:
            best = (accuracy, c, weight)
    return {"weight": best[2].astype(np.float32), "scale": scale.astype(np.float32), "C": best[1],
            "validation": validation}


def features_key(base_folder: Path, data_sha256: str, seed: int, part_sha: str, max_length: int, layers: list[int]) -> str:
    text = json.dumps([str(Path(base_folder).resolve()), data_sha256, seed, part_sha, max_length, layers])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cached_features(cache: Optional[Path], key: str, compute) -> tuple[np.ndarray, np.ndarray]:
    """`compute()` once per key: (features, loglik) stored under `cache` (float32, so a refit is exact)."""
    path = cache / f"{key}.npz" if cache else None
    if path is not None and path.is_file():
        stored = np.load(path)
        return stored["features"].astype(np.float32), stored["loglik"]
    features, loglik = compute()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, features=features, loglik=loglik)
    return features, loglik


class ProbeReward:
    """A linear-probe reward model: the causal model it reads plus (layers, weight, scale).

        probe = ProbeReward.load(".hearth/finetune/reward/probe-STAMP/model")
        probe.score([(ids, answer_start)])          # ids from training.reward_model.answer_ids
    """

    def __init__(self, causal, layers: list[int], weight: np.ndarray, scale: np.ndarray, pad_id: int, info: dict):
        self.causal, self.layers, self.weight, self.scale, self.pad_id, self.info = causal, layers, weight, scale, pad_id, info

    def score(self, sequences: list[tuple[list[int], int]], batch_size: int = 16) -> list[float]:
        features, _ = answer_features(self.causal, sequences, self.layers, self.pad_id, batch_size)
        return [float(v) for v in (features / self.scale) @ self.weight]

    def save(self, folder: Path, tokenizer) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "probe.npz", weight=self.weight, scale=self.scale)
        (folder / PROBE_FILE).write_text(json.dumps({"kind": "linear-probe", "layers": self.layers, **self.info},
                                                    indent=2), encoding="utf-8")
        tokenizer.save_pretrained(folder)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> tuple["ProbeReward", object]:
        from training.base_model import load_model, resolve_base

        folder = Path(folder)
        info = json.loads((folder / PROBE_FILE).read_text(encoding="utf-8"))
        try:
            base_folder = resolve_base(info["base"])
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"The probe in {folder} reads the model {info['base']!r}, which is not here any "
                                    f"more ({exc}); retrain it with `python -m training.reward_model --method probe "
                                    "--base MODEL`.") from exc
        causal, tokenizer = load_model(base_folder)
        stored = np.load(folder / "probe.npz")
        extra = {k: v for k, v in info.items() if k not in ("kind", "layers")}
        return cls(causal, list(info["layers"]), stored["weight"], stored["scale"], tokenizer.pad_token_id, extra), tokenizer


def is_probe_folder(folder: str | Path) -> bool:
    return (Path(folder) / PROBE_FILE).is_file()
