"""The gradient noise scale (seethink.eval.noise_scale): the estimator on gradients of known signal and noise, and
the per-prompt GRPO gradients of the shipped base."""

import math

import pytest
import torch

from seethink.eval.noise_scale import (
    NoiseScale,
    Sampling,
    advantages,
    completion_mask,
    measure,
    param_group,
    sequence_logps,
    signal_fraction,
)
from seethink.miniature.base import base_path
from seethink.models.generate import encode_prompts
from seethink.models.load import load_model
from seethink.records.io import load_records


def synthetic(signal: torch.Tensor, noise_sd: float, chunks: int, per_chunk: int, seed: int) -> NoiseScale:
    gen = torch.Generator().manual_seed(seed)
    ns = NoiseScale(["a"])
    for _ in range(chunks):
        for _ in range(per_chunk):
            g = signal + noise_sd * torch.randn(signal.shape, generator=gen)
            ns.add({"a": g, "all": g})
        ns.close_chunk()
    return ns


def test_the_estimator_recovers_a_known_signal_and_noise():
    dim, sd = 400, 0.5  # tr(Sigma) = 400 * 0.25 = 100; |G|^2 = 1, so B_noise = 100
    signal = torch.zeros(dim)
    signal[:4] = 0.5
    ns = synthetic(signal, sd, chunks=40, per_chunk=25, seed=0)
    s = ns.stats("a")
    assert abs(s["signal"] - 1.0) < 3 * s["se"] and s["se"] < 0.3
    assert s["trace"] == pytest.approx(100, rel=0.05)
    assert s["b_noise"] == pytest.approx(100, rel=0.4)
    assert signal_fraction(s, 100) == pytest.approx(0.5, abs=0.15)
    # the naive |mean gradient|^2 would be biased up by tr(Sigma) / 1000 = 0.1; the pairwise estimate is not
    null = synthetic(torch.zeros(dim), sd, chunks=40, per_chunk=25, seed=1).stats("a")
    assert abs(null["signal"]) < 3 * null["se"] and abs(null["signal"]) < 0.05
    assert null["b_noise"] == math.inf or null["b_noise"] > 1000


def test_one_chunk_is_refused():
    ns = synthetic(torch.ones(3), 0.1, chunks=1, per_chunk=3, seed=0)
    with pytest.raises(Exception, match="two chunks"):
        ns.stats()


def test_the_completion_mask_ends_at_the_first_eos_and_advantages_are_standardised():
    ids = torch.tensor([[5, 6, 2, 7, 2], [5, 5, 5, 5, 5]])
    assert completion_mask(ids, eos=2).tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    a = advantages(torch.tensor([1.0, 0.0, 0.0, 1.0]))
    assert a.sum().abs() < 1e-6 and a[0] > 0 > a[1]
    assert advantages(torch.tensor([0.5, 0.5])).abs().max() == 0


@pytest.fixture(scope="module")
def base():
    model, processor = load_model(base_path())
    return model, processor


def test_sequence_logps_are_the_log_probabilities_generate_sampled_from(base, world_dir):
    model, processor = base
    rec = load_records(world_dir / "visual_reasoning", "train")[0]
    processor.tokenizer.padding_side = "left"
    enc = encode_prompts(processor, [rec])
    with torch.no_grad():
        out = model.generate(
            **enc,
            max_new_tokens=12,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=processor.tokenizer.pad_token_id,
        )
    comp = out.sequences[:, enc["input_ids"].shape[1] :]
    steps = torch.stack(out.scores, 1).log_softmax(-1)
    expected = steps.gather(-1, comp[..., None]).squeeze(-1).sum(1)
    mask = torch.ones_like(comp, dtype=torch.float)
    with torch.no_grad():
        got = sequence_logps(model, processor, rec, comp, mask)
    assert got.item() == pytest.approx(expected.item(), abs=1e-3)


def test_measure_gives_per_part_gradients_and_text_records_leave_the_vision_tower_alone(base, world_dir):
    model, processor = base
    how = Sampling(group=4, chunk=3, max_new_tokens=40)
    image = measure(model, processor, load_records(world_dir / "visual_reasoning", "train")[:6], how)
    assert set(image.real.groups) == {"vision tower", "projector", "embeddings/head", "decoder layers", "norm/other"}
    assert len(image.real.chunk_means) == 2 and len(image.real.sq["all"]) == 6
    assert 0 < image.reward <= 1 and 0 <= image.mixed <= 1
    s = image.real.stats()
    assert math.isfinite(s["signal"]) and s["trace"] > 0
    if image.mixed:  # some group had a reward spread, so some gradient reached the vision tower
        assert max(image.real.sq["vision tower"]) > 0
    text = measure(model, processor, load_records(world_dir / "text_reasoning", "train")[:6], how)
    assert max(text.real.sq["vision tower"]) == 0 and max(text.null.sq["projector"]) == 0
    assert all(p.grad is None and p.requires_grad for p in model.parameters())  # it trains and freezes nothing
    assert param_group("model.language_model.layers.0.mlp.up_proj.weight") == "decoder layers"
