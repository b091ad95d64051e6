"""A stage's training rows, built once and in a fixed order: the stage runs through them exactly once.

Sources are mixed by weight in whole batches: each source gets a whole number of batches (largest
remainder), is cycled in a seeded shuffled order if it has fewer records than its share, and is cut into
batch-sized blocks; the blocks are then ordered by the stage's `ordering`. A batch therefore never mixes
sources -- needed because TRL 1.16 cannot process a batch mixing image and text-only prompts -- while the
stage's overall mixture is exactly the weights. A block is one optimizer step's rows over *all* processes, so
in a multi-process run no step has images on one process and text on another (tests/test_scale_out.py). TRL's
own shuffling and the Trainer's random sampler are switched off (`seethink.train.trl_config`), so what is built
here is what the trainer sees, and an easy→hard order cannot silently repeat or be reshuffled.
"""

from __future__ import annotations

import random
from pathlib import Path

from seethink.curriculum import filter_by_pass_rate, order_blocks, source_rows
from seethink.errors import SeethinkError
from seethink.prompting import prompt_messages
from seethink.recipe import Stage
from seethink.records.io import image_size, load_records
from seethink.train.dist import say


def resolve(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def allocate(weights: list[float], total: int) -> list[int]:
    """Split `total` rows by weight; counts sum to `total` exactly (largest remainder)."""
    s = sum(weights)
    raw = [w / s * total for w in weights]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[i] += 1
    return counts


def prompt_tokens(processor, records: list[dict]) -> list[int]:
    """Each record's prompt length in tokens as `processor` feeds it to the model: the chat-templated text plus
    every image's tokens. An image's tokens are measured once per image size (on a blank image of that size,
    through the processor itself) and image sizes are read from the file headers: no image is decoded."""
    from PIL import Image

    texts = [
        processor.apply_chat_template(prompt_messages(r), add_generation_prompt=True, tokenize=False) for r in records
    ]
    lengths = [len(ids) for ids in processor.tokenizer(texts, add_special_tokens=False)["input_ids"]]
    one_image = _one_image(processor)
    base = len(processor.tokenizer(one_image, add_special_tokens=False)["input_ids"])
    per_size: dict[tuple[int, int], int] = {}  # tokens an image of that size adds beyond its placeholder
    for i, r in enumerate(records):
        for path in r["images"]:
            size = image_size(path)
            if size not in per_size:
                ids = processor(text=[one_image], images=[Image.new("RGB", size)], return_tensors="np")["input_ids"]
                per_size[size] = ids.shape[1] - base
            lengths[i] += per_size[size]
    return lengths


def _one_image(processor) -> str:
    return processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "?"}]}],
        add_generation_prompt=True,
        tokenize=False,
    )


def drop_long_prompts(records: list[dict], processor, limit: int, where: str) -> list[dict]:
    """The records whose prompt fits in `limit` tokens (`inputs.max_prompt_length`); the count dropped is printed."""
    if not limit:
        return records
    kept = [r for r, n in zip(records, prompt_tokens(processor, records)) if n <= limit]
    if len(kept) < len(records):
        say(
            f"  {where}: dropped {len(records) - len(kept)} of {len(records)} rows whose prompt is over "
            f"inputs.max_prompt_length={limit} tokens"
        )
    if not kept:
        raise SeethinkError(f"{where}: every row's prompt is over inputs.max_prompt_length={limit} tokens")
    return kept


def stage_records(
    stage: Stage, root: Path, n_rows: int, block: int, seed: int, processor=None, max_prompt_length: int = 0
) -> list[dict]:
    """`n_rows` rows (a multiple of `block`, the rows one optimizer step consumes), in blocks of one source.

    ordering: shuffle -- rows shuffled within each source, blocks shuffled;
              as_is -- file order, sources one after another;
              difficulty -- easy→hard by pass_rate (`seethink.curriculum`: once, or per epoch), within each
              source and across the blocks of all sources, with seeded tie-breaking.
    """
    rng = random.Random(seed)
    where = f"stage {stage.name}"
    blocks = []
    counts = allocate([d.weight for d in stage.data], n_rows // block)
    for d, n_blocks in zip(stage.data, counts):
        recs = load_records(resolve(root, d.path), d.split)
        recs = filter_by_pass_rate(recs, stage.drop_solved, stage.drop_unsolved, f"{where}: data {d.path}")
        recs = drop_long_prompts(recs, processor, max_prompt_length, f"{where}: data {d.path}")
        rows = source_rows(recs, n_blocks * block, rng, stage.ordering, stage.difficulty_schedule, where)
        blocks += [(rows[i][0], [r for _, r in rows[i : i + block]]) for i in range(0, len(rows), block)]
    return [r for b in order_blocks(blocks, rng, stage.ordering) for r in b]
