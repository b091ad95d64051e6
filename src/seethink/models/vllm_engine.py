"""vLLM behind seethink's `generate`: evaluation and pass@K on a GPU at vLLM's speed, with the same prompts, the
same sampling settings and the same decoding of the answer as batched HF `generate`.

`VllmModel` wraps a `vllm.LLM` (or anything with its `generate(inputs, sampling_params)` interface: the tests use a
fake one that runs the HF model). `seethink.models.generate.generate` hands it the records; it renders each prompt
with the processor's chat template (the text HF generate tokenizes), passes the record's images as vLLM's
`multi_modal_data`, and decodes the returned token ids with `generate.decode`, so an answer's text, token count and
think-token count are computed by one function either way. Greedy answers match HF's up to kernel differences;
sampled ones follow vLLM's own seeded sampler (the same settings, not the same draws).
"""

from __future__ import annotations

from pathlib import Path

import torch

from seethink.errors import SeethinkError
from seethink.prompting import prompt_messages
from seethink.records.io import load_image


class VllmModel:
    """An engine seethink's `generate` can use in place of an HF model."""

    def __init__(self, llm, sampling_params=None):
        self.llm = llm
        if sampling_params is None:
            from vllm import SamplingParams as sampling_params
        self.sampling_params = sampling_params

    def params(
        self, max_new_tokens: int, do_sample: bool, temperature: float, top_p: float, top_k: int, n: int, seed: int
    ):
        """vLLM's SamplingParams for HF-style settings: greedy is temperature 0; top_k 0 (off) is vLLM's -1."""
        if not do_sample:
            temperature, top_p, top_k = 0.0, 1.0, 0
        return self.sampling_params(
            n=n,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k or -1,
            max_tokens=max_new_tokens,
            seed=seed,
            skip_special_tokens=False,
        )

    def complete(self, processor, records: list[dict], params) -> list[list]:
        """Token ids of each record's completions (vLLM's `outputs[j].token_ids`), in input order."""
        inputs = []
        for r in records:
            text = processor.apply_chat_template(prompt_messages(r), add_generation_prompt=True, tokenize=False)
            item = {"prompt": text}
            if r["images"]:
                item["multi_modal_data"] = {"image": [load_image(p) for p in r["images"]]}
            inputs.append(item)
        outs = self.llm.generate(inputs, sampling_params=params, use_tqdm=False)
        return [[torch.tensor(list(o.token_ids), dtype=torch.long) for o in out.outputs] for out in outs]


def load_vllm(path: str | Path, pixels: tuple[int, int] = (0, 0), seed: int = 0, memory: float = 0.85) -> VllmModel:
    """A vLLM engine on the model folder (bf16, this process's GPUs), with the processor's pixel bounds."""
    from seethink.models.vllm_support import check_vllm

    check_vllm("--engine vllm")
    if not torch.cuda.is_available():
        raise SeethinkError("--engine vllm: vLLM needs a CUDA GPU (use --engine transformers)")
    from vllm import LLM

    mm = {k: v for k, v in (("min_pixels", pixels[0]), ("max_pixels", pixels[1])) if v}
    llm = LLM(
        model=str(path),
        dtype="bfloat16",
        seed=seed,
        gpu_memory_utilization=memory,
        mm_processor_kwargs=mm or None,
        enable_prefix_caching=True,
    )
    return VllmModel(llm)


ENGINES = ("auto", "vllm", "transformers")


def load_generator(
    path: str | Path,
    engine: str = "transformers",
    dtype: torch.dtype | None = None,
    attn: str = "auto",
    pixels: tuple[int, int] = (0, 0),
    seed: int = 0,
):
    """(model, processor) for `generate`: a vLLM engine (`vllm`; `auto` where vLLM fits and a GPU is present) or
    the HF model (`transformers`, and `auto` anywhere else). The processor is the HF one either way: it renders the
    chat template and decodes the answers."""
    from seethink.models.load import load_model, load_processor
    from seethink.models.vllm_support import vllm_usable

    if engine not in ENGINES:
        raise SeethinkError(f"--engine: must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "vllm" or (engine == "auto" and vllm_usable()):
        processor = load_processor(path)
        return load_vllm(path, pixels, seed), processor
    return load_model(path, dtype=dtype, attn=attn)
