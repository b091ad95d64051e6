"""Evaluation and pass@K through a vLLM engine give what batched HF generate gives: the same prompts, sampling
settings and scores. No vLLM here (CPU): a fake engine with `vllm.LLM.generate`'s interface runs the HF model."""

import subprocess
import sys
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch

from seethink.eval.evaluate import evaluate
from seethink.eval.passk import sample_correct
from seethink.miniature.base import base_path
from seethink.models.generate import encode_prompts
from seethink.models.load import load_model
from seethink.models.vllm_engine import VllmModel, load_generator
from seethink.records.io import load_image, load_records


@dataclass
class Params:  # vllm.SamplingParams' fields that seethink sets
    n: int
    temperature: float
    top_p: float
    top_k: int
    max_tokens: int
    seed: int
    skip_special_tokens: bool


class FakeLLM:
    """`LLM.generate(inputs, sampling_params=…, use_tqdm=…)` on the HF model, one prompt at a time, as vLLM serves
    it: the rendered prompt text and its images in, the new token ids (ending in end-of-sequence) out."""

    def __init__(self, model, processor):
        self.model, self.processor, self.calls = model, processor, []

    def generate(self, inputs, sampling_params, use_tqdm=True):
        self.calls.append((inputs, sampling_params))
        p, outs = sampling_params, []
        for item in inputs:
            images = item.get("multi_modal_data", {}).get("image", [])
            enc = self.processor(text=[item["prompt"]], return_tensors="pt", **({"images": images} if images else {}))
            sampling = (
                dict(do_sample=True, temperature=p.temperature, top_p=p.top_p, top_k=None if p.top_k == -1 else p.top_k)
                if p.temperature > 0
                else dict(do_sample=False)
            )
            torch.manual_seed(p.seed)
            n = p.n if p.temperature > 0 else 1  # greedy: the one answer, n times
            with torch.inference_mode():
                ids = self.model.generate(
                    **enc,
                    max_new_tokens=p.max_tokens,
                    num_return_sequences=n,
                    pad_token_id=self.processor.tokenizer.pad_token_id,
                    **sampling,
                )
            new = ids[:, enc["input_ids"].shape[1] :].tolist() * (p.n // n)
            outs.append(SimpleNamespace(outputs=[SimpleNamespace(token_ids=row) for row in new]))
        return outs


@pytest.fixture(scope="module")
def base_and_records(world_dir):
    model, processor = load_model(base_path(), device="cpu")
    records = [
        r
        for cap in ("perception", "text_reasoning", "visual_reasoning")
        for r in load_records(world_dir / cap, "validation")[:6]
    ]
    return model, processor, records


def test_greedy_evaluation_through_the_engine_equals_hf_generate(base_and_records):
    model, processor, records = base_and_records
    hf_rows, hf_summary = evaluate(model, processor, records, max_new_tokens=64, batch_size=1, show=False)
    fake = FakeLLM(model, processor)
    rows, summary = evaluate(VllmModel(fake, Params), processor, records, max_new_tokens=64, show=False)
    assert rows == hf_rows and summary == hf_summary
    inputs, params = fake.calls[0]
    assert params == Params(n=1, temperature=0.0, top_p=1.0, top_k=-1, max_tokens=64, seed=0, skip_special_tokens=False)
    # the prompt vLLM gets is the text HF generate tokenizes, and the record's own images
    processor.tokenizer.padding_side = "left"
    for item, r in zip(inputs, records):
        hf_ids = encode_prompts(processor, [r])["input_ids"][0].tolist()
        enc = processor(
            text=[item["prompt"]],
            return_tensors="pt",
            **({"images": item["multi_modal_data"]["image"]} if r["images"] else {}),
        )
        assert enc["input_ids"][0].tolist() == hf_ids
        assert ("multi_modal_data" in item) == bool(r["images"])
        if r["images"]:
            assert item["multi_modal_data"]["image"][0].tobytes() == load_image(r["images"][0]).tobytes()


def test_pass_at_k_through_the_engine_samples_with_the_same_settings(base_and_records):
    model, processor, records = base_and_records
    fake = FakeLLM(model, processor)
    counts = sample_correct(
        VllmModel(fake, Params),
        processor,
        records,
        k=4,
        seed=7,
        temperature=0.7,
        max_new_tokens=48,
        top_p=0.9,
        top_k=20,
    )
    ((inputs, params),) = fake.calls
    assert params == Params(n=4, temperature=0.7, top_p=0.9, top_k=20, max_tokens=48, seed=7, skip_special_tokens=False)
    assert len(inputs) == len(records) and len(counts) == len(records) and all(0 <= c <= 4 for c in counts)
    # scored by the same path: a fake that answers greedily k times counts k x the greedy accuracy
    greedy_rows, _ = evaluate(model, processor, records, max_new_tokens=48, batch_size=1, show=False)
    fake_greedy = FakeLLM(model, processor)
    fake_greedy.generate = lambda inputs, sampling_params, use_tqdm=True: FakeLLM.generate(
        fake_greedy, inputs, Params(**{**sampling_params.__dict__, "temperature": 0.0})
    )
    counts = sample_correct(
        VllmModel(fake_greedy, Params), processor, records, k=3, seed=0, temperature=1.0, max_new_tokens=48
    )
    assert counts == [3 * int(r["accuracy"]) for r in greedy_rows]


def test_without_vllm_auto_is_hf_generate_and_vllm_is_one_line(world_dir, tmp_path):
    model, _ = load_generator(base_path(), "auto")
    assert isinstance(model, torch.nn.Module)
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "seethink",
            "eval",
            "base",
            "--engine",
            "vllm",
            "--out",
            tmp_path / "e",
            "--data",
            world_dir / "perception",
            "--limit",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        'seethink: error: --engine vllm: vLLM is not installed (pip install -e ".[vllm]" on a CUDA machine)'
    ]
