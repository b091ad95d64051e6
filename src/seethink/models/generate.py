"""Batched generation for evaluation and pass@K: many records per `generate` call, left padding."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seethink.errors import SeethinkError
from seethink.models.load import image_token_id
from seethink.progress import progress_bar
from seethink.prompting import prompt_messages
from seethink.records.io import load_image
from seethink.rewards import think_span


@dataclass
class Completion:
    text: str
    n_tokens: int
    think_tokens: int = 0
    """Tokens inside the first <think>…</think> block (0 if there is none)."""


def image_kwargs(per_record: list[list]) -> dict:
    """The `images=` argument of a processor call for a batch, given each record's images: nested per record when
    every record has images (Gemma 3 and multi-image records need it; the others accept it), flat for a batch that
    mixes text-only records in, absent when no record has one."""
    if not any(per_record):
        return {}
    return {"images": per_record if all(per_record) else [im for ims in per_record for im in ims]}


def encode_prompts(processor, records: list[dict]):
    texts = [
        processor.apply_chat_template(prompt_messages(r), add_generation_prompt=True, tokenize=False) for r in records
    ]
    per_record = [[load_image(p) for p in r["images"]] for r in records]
    return processor(text=texts, padding=True, return_tensors="pt", **image_kwargs(per_record))


def decode(processor, ids: torch.Tensor) -> Completion:
    """Cut at the first end-of-sequence token; keep special tokens such as <think> in the text."""
    tok = processor.tokenizer
    ids = ids.tolist()
    if tok.eos_token_id in ids:
        ids = ids[: ids.index(tok.eos_token_id)]
    ids = [i for i in ids if i != tok.pad_token_id]
    text = tok.decode(ids, skip_special_tokens=False)
    span = think_span(text)
    think = len(tok.encode(text[span[0] : span[1]], add_special_tokens=False)) if span else 0
    return Completion(text, len(ids), think)


@torch.inference_mode()
def new_tokens(model, pad_token_id: int, encoded, max_new_tokens: int, **sampling) -> torch.Tensor:
    """The tokens `model.generate` adds to one encoded, left-padded batch (the image token suppressed: a sampled
    image token would break the next forward pass). Every batched generation in seethink goes through here.

    Never `synced_gpus`: every process generates on its own share of the records with whole weights (a loaded
    checkpoint, or `seethink.train.engines.whole_model`), so the processes need not step in lockstep and may run
    different numbers of batches (transformers would switch it on under ZeRO-3 or FSDP and hang them)."""
    suppress = [t for t in [image_token_id(model)] if t is not None]
    enc = encoded.to(model.device)
    gen = model.generate(
        **enc,
        max_new_tokens=max_new_tokens,
        pad_token_id=pad_token_id,
        suppress_tokens=suppress or None,
        synced_gpus=False,
        **sampling,
    )
    return gen[:, enc["input_ids"].shape[1] :]


VLLM_CHUNK = 1024
"""Records handed to a vLLM engine per call (it schedules its own batches inside one)."""


def generate(
    model,
    processor,
    records: list[dict],
    max_new_tokens: int = 96,
    batch_size: int = 64,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 0,
    num_return_sequences: int = 1,
    seed: int = 0,
    desc: str = "generating",
    show: bool = True,
    bad_words_ids: list[list[int]] | None = None,
) -> list[list[Completion]]:
    """Completions for every record (a list of `num_return_sequences` each), in input order, greedy unless
    `do_sample`. The processor's padding side is forced to the left for decoder-only generation. `show`: a
    progress bar (off inside a training stage, whose own bar is on screen). `model` may be a vLLM engine
    (`seethink.models.vllm_engine.VllmModel`): the same prompts and settings, decoded by the same `decode`.
    `bad_words_ids`: token sequences never generated (HF generate's constraint; the decoding controls of
    `benchmarks/decoding_controls.py`), HF models only."""
    processor.tokenizer.padding_side = "left"
    torch.manual_seed(seed)
    if hasattr(model, "complete"):  # a vLLM engine (seethink.models.vllm_engine): it batches by itself
        if bad_words_ids:
            raise SeethinkError("bad_words_ids: a decoding constraint of HF generate; use --engine transformers")
        params = model.params(max_new_tokens, do_sample, temperature, top_p, top_k, num_return_sequences, seed)
        out = []
        with progress_bar(show=show) as progress:
            task = progress.add_task(desc, total=len(records))
            for start in range(0, len(records), VLLM_CHUNK):  # bounded memory for images, and a moving bar
                chunk = records[start : start + VLLM_CHUNK]
                out += [[decode(processor, ids) for ids in seqs] for seqs in model.complete(processor, chunk, params)]
                progress.advance(task, len(chunk))
        return out
    sampling = dict(do_sample=do_sample, num_return_sequences=num_return_sequences)
    if bad_words_ids:
        sampling["bad_words_ids"] = bad_words_ids
    if do_sample:
        sampling.update(temperature=temperature, top_p=top_p, top_k=top_k or None)
    out: list[list[Completion]] = []
    with progress_bar(show=show) as progress:
        task = progress.add_task(desc, total=len(records))
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            new = new_tokens(
                model, processor.tokenizer.pad_token_id, encode_prompts(processor, batch), max_new_tokens, **sampling
            )
            for i in range(len(batch)):
                out.append([decode(processor, new[i * num_return_sequences + j]) for j in range(num_return_sequences)])
            progress.advance(task, len(batch))
    return out
