"""The gradient noise scale of GRPO on a model and its data: how many prompts an update needs before it is more
signal than noise (McCandlish et al. 2018, "An Empirical Model of Large-Batch Training").

A GRPO update is the mean of per-prompt gradients g_j (one prompt = one group of completions). Their expectation
is the signal G, their spread the noise (covariance Sigma); an update of B prompts has
E|g_B|^2 = |G|^2 + tr(Sigma) / B, so it is mostly signal only once B exceeds B_noise = tr(Sigma) / |G|^2.

`measure` samples rollouts as a seethink GRPO stage does (groups of completions at the stage's temperature,
rewards 0.9 accuracy + 0.1 format, advantages standardised within each group, token-summed log-likelihoods) and
accumulates every prompt's policy gradient per parameter group. `NoiseScale` estimates |G|^2 without the noise's
bias from products of independent chunk means (the mean of <G_c, G_d> over chunk pairs c != d), with a jackknife
standard error over chunks, and tr(Sigma) as the mean per-prompt |g_j|^2 minus |G|^2. The same rollouts with
rewards shuffled within each group (the null control of `seethink train --null`) are accumulated beside them:
their |G|^2 must be zero within its error, the estimator's own check.
`benchmarks/gradient_noise.py` prints it for the shipped base.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from seethink.errors import SeethinkError
from seethink.models.generate import decode, encode_prompts, new_tokens
from seethink.progress import progress_bar
from seethink.rewards import score


def param_group(name: str) -> str:
    """The part of a LLaVA-style VLM a parameter belongs to (the miniature's names)."""
    parts = name.split(".")
    if "vision_tower" in parts:
        return "vision tower"
    if "multi_modal_projector" in parts:
        return "projector"
    if "embed_tokens" in parts or "lm_head" in parts:
        return "embeddings/head"
    if "layers" in parts:
        return "decoder layers"
    return "norm/other"


def completion_mask(ids: torch.Tensor, eos: int) -> torch.Tensor:
    """1 up to and including the first end-of-sequence token, 0 after it (as TRL masks completions)."""
    is_eos = ids == eos
    first = torch.where(is_eos.any(1), is_eos.float().argmax(1), torch.full((ids.shape[0],), ids.shape[1]))
    return (torch.arange(ids.shape[1])[None, :] <= first[:, None]).float()


def advantages(rewards: torch.Tensor) -> torch.Tensor:
    """A group's advantages as TRL 1.16's GRPOTrainer computes them under its default `scale_rewards: group`
    (which every shipped recipe uses): rewards minus the group mean, over the group's unbiased std + 1e-4. TRL
    computes them inline in `_generate_and_score_completions`, with no function to call."""
    return (rewards - rewards.mean()) / (rewards.std() + 1e-4)


def sequence_logps(model, processor, record: dict, completions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of the completion tokens' log-probabilities, one per completion, for one prompt (no padding)."""
    enc = encode_prompts(processor, [record])
    g = completions.shape[0]
    prompt = enc["input_ids"].repeat(g, 1)
    ids = torch.cat([prompt, completions], 1)
    attn = torch.cat([torch.ones_like(prompt), mask.long()], 1)
    extra = {k: v.repeat(g, *[1] * (v.dim() - 1)) for k, v in enc.items() if k not in ("input_ids", "attention_mask")}
    logits = model(input_ids=ids, attention_mask=attn, **extra).logits[:, prompt.shape[1] - 1 : -1].float()
    logp = torch.log_softmax(logits, -1).gather(-1, completions[..., None]).squeeze(-1)
    return (logp * mask).sum(1)


class NoiseScale:
    """Per-prompt gradients, kept as chunk means and squared norms per parameter group, and the estimates."""

    def __init__(self, groups: list[str]):
        self.groups = list(groups)
        self.chunk_means: list[dict[str, torch.Tensor]] = []
        self.sq: dict[str, list[float]] = {k: [] for k in ["all", *self.groups]}
        self._sum: dict[str, torch.Tensor] | None = None
        self._n = 0

    def add(self, grads: dict[str, torch.Tensor]) -> None:
        """One prompt's gradient: a flat tensor per group and `all`."""
        if self._sum is None:
            self._sum = {k: torch.zeros_like(v) for k, v in grads.items()}
        for k, v in grads.items():
            self._sum[k] += v
            self.sq[k].append(float(v.dot(v)))
        self._n += 1

    def close_chunk(self) -> None:
        if self._n:
            self.chunk_means.append({k: v / self._n for k, v in self._sum.items()})
        self._sum, self._n = None, 0

    def signal(self, k: str, leave_out: int | None = None) -> float:
        """|G|^2 from independent chunk means: their pairwise dot products have no noise term."""
        means = [c[k] for i, c in enumerate(self.chunk_means) if i != leave_out]
        n = len(means)
        if n < 2:
            raise SeethinkError("the gradient noise scale needs at least two chunks of prompts")
        total = torch.stack(means).sum(0)
        return float(total.dot(total) - sum(m.dot(m) for m in means)) / (n * (n - 1))

    def stats(self, k: str = "all") -> dict:
        """signal |G|^2, its jackknife standard error `se`, noise `trace` tr(Sigma) and `b_noise` (inf when the
        signal estimate is not positive)."""
        n = len(self.chunk_means)
        g2 = self.signal(k)
        loo = [self.signal(k, i) for i in range(n)] if n > 2 else [g2]
        mean_loo = sum(loo) / len(loo)
        se = math.sqrt((n - 1) / n * sum((x - mean_loo) ** 2 for x in loo))
        trace = sum(self.sq[k]) / len(self.sq[k]) - g2
        return {"signal": g2, "se": se, "trace": trace, "b_noise": trace / g2 if g2 > 0 else math.inf}


def signal_fraction(stats: dict, batch: int) -> float:
    """The expected share of signal in an update of `batch` prompts, from `NoiseScale.stats`:
    |G|^2 / (|G|^2 + tr(Sigma) / batch), 0 when no signal was found."""
    return stats["signal"] / (stats["signal"] + stats["trace"] / batch) if stats["signal"] > 0 else 0.0


def flat_grads(loss: torch.Tensor, params: dict[str, list[torch.Tensor]], retain: bool) -> dict[str, torch.Tensor]:
    names = list(params)
    tensors = [p for k in names for p in params[k]]
    grads = torch.autograd.grad(loss, tensors, retain_graph=retain, allow_unused=True)
    out, i = {}, 0
    for k in names:
        gs = grads[i : i + len(params[k])]
        out[k] = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(gs, params[k])])
        i += len(params[k])
    out["all"] = torch.cat([out[k] for k in names])
    return out


@dataclass
class Sampling:
    group: int = 8
    """Completions per prompt (a stage's num_generations)."""
    temperature: float = 1.0
    max_new_tokens: int = 64
    chunk: int = 16
    """Prompts per generation call, and per chunk mean of the estimator."""
    per_tensor: bool = False
    """Report every parameter tensor rather than the parts of the model."""
    seed: int = 0


@dataclass
class Measured:
    real: NoiseScale
    null: NoiseScale
    reward: float
    mixed: float
    """Share of groups whose rewards are not all equal (the others have zero advantage)."""
    tokens: float
    """Mean completion length in tokens."""
    prompts: int


def measure(model, processor, records: list[dict], how: Sampling | None = None) -> Measured:
    """Per-prompt GRPO gradients of `model` (trainable parameters only) on `records`, with the null beside them."""
    how = how or Sampling()
    if len(records) < 2 * how.chunk:
        raise SeethinkError(
            f"the gradient noise scale needs at least {2 * how.chunk} prompts (two chunks), got {len(records)}"
        )
    params: dict[str, list[torch.Tensor]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            params.setdefault(name if how.per_tensor else param_group(name), []).append(p)
    real, null = NoiseScale(params), NoiseScale(params)
    rng = random.Random(how.seed)
    torch.manual_seed(how.seed)
    tok = processor.tokenizer
    tok.padding_side = "left"
    rewards, mixed, tokens = [], 0, []
    norm = how.group * how.max_new_tokens / 2  # a fixed token normaliser: it cancels in B_noise
    with progress_bar() as progress:
        task = progress.add_task("per-prompt gradients", total=len(records))
        for start in range(0, len(records), how.chunk):
            chunk = records[start : start + how.chunk]
            model.eval()
            gen = new_tokens(
                model,
                tok.pad_token_id,
                encode_prompts(processor, chunk),
                how.max_new_tokens,
                do_sample=True,
                temperature=how.temperature,
                top_k=None,
                top_p=1.0,
                num_return_sequences=how.group,
            )
            model.train()
            for j, rec in enumerate(chunk):
                comp = gen[j * how.group : (j + 1) * how.group].clone()  # out of inference mode
                mask = completion_mask(comp, tok.eos_token_id)
                r = torch.tensor(
                    [score(decode(processor, c).text, rec["answer"], rec.get("options")).total for c in comp]
                )
                rewards += r.tolist()
                tokens.append(float(mask.sum()) / how.group)
                mixed += int(r.std() > 0)
                a = advantages(r)
                shuffled = a[torch.tensor(rng.sample(range(how.group), how.group))]
                logps = sequence_logps(model, processor, rec, comp, mask)
                real.add(flat_grads(-(a * logps).sum() / norm, params, retain=True))
                null.add(flat_grads(-(shuffled * logps).sum() / norm, params, retain=False))
                progress.advance(task)
            real.close_chunk()
            null.close_chunk()
    model.eval()
    return Measured(
        real, null, sum(rewards) / len(rewards), mixed / len(records), sum(tokens) / len(tokens), len(records)
    )
