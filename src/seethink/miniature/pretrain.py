"""`seethink pretrain`: supervised training of the tiny default VLM into the base that RL stages start from.

GRPO needs a warm start: a base that follows the answer format and has real but imperfect skill. The base
sees dense captions (it learns what is in the image), a share of world questions answered in the final
format, and text/visual reasoning. Its data is drawn from the world generator with its own seed stream
(`pretrain`), so the records the RL stages train and evaluate on are new to it.

Simplification, on purpose: examples are tokenised once up front (the processor expands image tokens) and
trained with a plain `transformers.Trainer` with completion-only labels. This is what TRL's SFTTrainer does
for prompt/completion data; pre-tokenising avoids re-running the chat template and tokenizer every epoch,
which dominates step time for a model this small. Data is generated and encoded as a stream, and an image
is kept as its PNG bytes (about 380 bytes for a 64×64 scene, against 49 KB of float pixel values, so half a
million examples fit in memory); `collate` decodes it and runs the processor's own image processor on the
batch (about 20 ms per batch of 48). The Trainer gives the
schedule, logging, and checkpoint/resume.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import time
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from PIL import Image
from transformers import Trainer, TrainingArguments, set_seed

from seethink.fileio import atomic_dir, check_not_input, check_owned, disk_full_is_one_line, ensure_dir, write_json
from seethink.grading import THINK_OPEN
from seethink.miniature.pretrain_config import STYLE_DATASETS, PretrainConfig
from seethink.miniature.tiny import build_model, build_processor
from seethink.miniature.vision_phase import VisionPhasedTrainer
from seethink.miniature.world.generate import WorldConfig, generate, solution_text
from seethink.miniature.world.scene import png_bytes
from seethink.models.checkpoints import drop_unfinished, last_checkpoint
from seethink.models.load import load_processor, load_weights
from seethink.progress import progress_bar
from seethink.prompting import prompt_messages, target_text
from seethink.seeding import derive_seed
from seethink.styles import OPENINGS, style_of

IGNORE = -100


def batched(items: Iterable, n: int) -> Iterator[list]:
    it = iter(items)
    while part := list(islice(it, n)):
        yield part


def encode(processor, pairs: Iterable[tuple[dict, Image.Image | None]], chunk: int = 256) -> list[dict]:
    """Tokenise prompt+target with the chat template, `chunk` records at a time; labels cover only the assistant
    turn. An image is kept as its PNG bytes (a few hundred bytes here; `collate` makes its pixel values)."""
    tok = processor.tokenizer
    head = tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    start_id = tok.convert_tokens_to_ids("<|im_start|>")
    out = []
    for part in batched(pairs, chunk):
        recs, imgs = [r for r, _ in part], [im for _, im in part]
        texts = [
            processor.apply_chat_template(
                prompt_messages(r) + [{"role": "assistant", "content": target_text(r)}], tokenize=False
            )
            for r in recs
        ]
        flat = [im for im in imgs if im is not None]
        enc = processor(text=texts, images=flat or None, padding=False)  # expands each image into its tokens
        for ids, im in zip(enc["input_ids"], imgs):
            cut = len(ids) - ids[::-1].index(start_id) - 1 + len(head)
            item = {"input_ids": torch.tensor(ids, dtype=torch.int32), "cut": cut}
            if im is not None:
                item["png"] = png_bytes(im)
            out.append(item)
    return out


def collate(batch: list[dict], processor) -> dict:
    n = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), n), processor.tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(batch), n), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    for i, b in enumerate(batch):
        k = len(b["input_ids"])
        ids[i, :k], mask[i, :k] = b["input_ids"], 1
        labels[i, b["cut"] : k] = ids[i, b["cut"] : k]
    out = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    images = [np.asarray(Image.open(io.BytesIO(b["png"])).convert("RGB")) for b in batch if "png" in b]
    if images:
        out["pixel_values"] = processor.image_processor(images=images, return_tensors="pt")["pixel_values"]
    return out


def terse_solution(record: dict) -> str:
    """The terse answer style: no worked reasoning, the answer stated and boxed (format reward still met). Its
    opening is no worked solution's (those open with "The", "There", "I" or a number), so a stage that makes one
    capability's worked answers likelier does not make another's terse answers likelier."""
    return solution_text([f"{OPENINGS['terse']} {record['answer']}."], record["answer"])


def look_solution(record: dict) -> str:
    """The looking style: the image's dense caption first, then the worked reasoning of the world's solution."""
    return record["solution"].replace(THINK_OPEN, f"{THINK_OPEN}{record['caption']} ", 1)


def guess_solution(guess: str, style: str = "guess") -> str:
    """The guessing style (or the quick one, the same answer under its own opening): an answer given without
    looking or working it out, boxed in the format."""
    return solution_text([f"{OPENINGS[style]} {guess}."], guess)


STYLES = tuple(STYLE_DATASETS)


def styles_in(samples: Path) -> dict[str, dict[str, dict]]:
    """An evaluation's answers by style (`samples.jsonl` of `seethink eval`): capability -> style -> {n, share,
    accuracy, think_tokens}, styles in name order."""
    by: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for line in samples.read_text().splitlines():
        row = json.loads(line)
        by.setdefault((row["capability"], style_of(row["completion"])), []).append(
            (row["accuracy"], row.get("think_tokens", 0))
        )
    out: dict[str, dict[str, dict]] = {}
    for (cap, style), v in sorted(by.items()):
        out.setdefault(cap, {})[style] = {
            "n": len(v),
            "accuracy": sum(a for a, _ in v) / len(v),
            "think_tokens": sum(t for _, t in v) / len(v),
        }
    for styles in out.values():
        total = sum(s["n"] for s in styles.values())
        for s in styles.values():
            s["share"] = s["n"] / total
    return out


def styled(record: dict, shares: dict[str, float], draw: float, guess: str | None) -> dict:
    """The record with its pretraining answer in the style `draw` (uniform in [0, 1)) falls on: the styles take
    `shares` of [0, 1) in the order of STYLES, the rest stays worked. `guess` is the answer the guessing style
    gives (None: that record is never a guess)."""
    edge = 0.0
    for name in STYLES:
        edge += shares.get(name, 0.0)
        if draw < edge:
            if name == "terse":
                return {**record, "solution": terse_solution(record)}
            if name == "look":
                return {**record, "solution": look_solution(record)}
            return record if guess is None else {**record, "solution": guess_solution(guess, name)}
    return record


def hardness(record: dict, world: WorldConfig) -> float:
    """How hard a pretraining question is, in [0, 1]: the number of objects in its image (image questions) or of
    steps in its word problem, from the world's least to its most."""
    if record.get("scene"):
        lo, hi, k = world.min_objects, world.max_objects, len(record["scene"]["objects"])
    else:
        lo, hi, k = 1, world.max_text_steps, record["difficulty"]
    return 0.5 if hi == lo else min(1.0, max(0.0, (k - lo) / (hi - lo)))


def style_share(share, record: dict, world: WorldConfig) -> float:
    """A style's share for one record: the number itself, or [easiest, hardest] interpolated by its hardness."""
    if isinstance(share, (int, float)):
        return float(share)
    easy, hard = share
    return easy + (hard - easy) * hardness(record, world)


def pretrain_data(processor, cfg: PretrainConfig) -> list[dict]:
    """The pretraining examples, generated and encoded in a stream (only the encoded examples are kept)."""
    world = WorldConfig(**cfg.world)
    counts = {name: round(n * cfg.data_scale) for name, n in cfg.mix.items() if n}
    counts = {name: max(1, n) for name, n in counts.items()}

    def pairs():
        with progress_bar() as bar:
            task = bar.add_task("pretraining data", total=sum(counts.values()))
            for name, n in counts.items():
                shares = {style: getattr(cfg, style)[name] for style in STYLES if name in getattr(cfg, style)}
                # the styles' own stream, so the world's is untouched; its tag ("terse") is part of every shipped
                # config's data stream: changing it changes the examples of every base that has styles
                draws = random.Random(derive_seed(cfg.seed, name, "terse"))
                previous = None  # a numeric guess is the answer of the dataset's previous record: a draw from its prior
                for g in generate(name, "pretrain", n, cfg.seed, world):
                    rec = {**g.record, "images": ["<in-memory>"] if g.scene is not None else []}
                    if shares:
                        draw = draws.random()
                        guess = draws.choice(rec["options"]) if rec.get("options") else previous
                        previous = rec["answer"]
                        rec = styled(rec, {k: style_share(v, rec, world) for k, v in shares.items()}, draw, guess)
                    yield rec, g.image
                    bar.advance(task)

    return encode(processor, pairs())


def _resumable(work: Path, cfg: PretrainConfig) -> Path | None:
    """The checkpoint to resume, only of a run with the same settings; anything else in `work` is discarded."""
    stamp = work / "pretrain_config.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == asdict(cfg):
        return last_checkpoint(work, label="pretrain: ")
    for old in work.glob("checkpoint-*"):
        shutil.rmtree(old)
    write_json(stamp, asdict(cfg))
    return None


def _start_model(cfg: PretrainConfig):
    """(processor, model) to pretrain: a fresh build, or an earlier base for continued pretraining."""
    if cfg.init:  # continued pretraining of an earlier base (its tokenizer and image processor are kept)
        return load_processor(cfg.init), load_weights(cfg.init, device="cpu")
    processor = build_processor(image_size=cfg.world["image_size"], patch_size=cfg.patch_size)
    model = build_model(
        processor, cfg.size, image_size=cfg.world["image_size"], patch_size=cfg.patch_size, seed=cfg.seed
    )
    return processor, model


def _training_args(work: Path, cfg: PretrainConfig) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(work),
        max_steps=cfg.steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.lr,
        warmup_steps=cfg.warmup_steps,
        lr_scheduler_type="cosine",
        weight_decay=cfg.weight_decay,
        logging_steps=50,
        save_steps=min(500, max(1, cfg.steps // 4)),
        save_total_limit=1,
        report_to="none",
        use_cpu=True,
        seed=cfg.seed,
        data_seed=cfg.seed,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        disable_tqdm=False,
    )


def pretrain(out: str | Path, cfg: PretrainConfig = PretrainConfig()) -> Path:
    """Build, train and save the base to `out` (model + processor + pretrain_config.json)."""
    out = check_owned(out, ("pretrain_config.json",), "seethink pretrain")  # before minutes of training; replaced whole
    if cfg.init:
        check_not_input(out, [cfg.init], "--out", replaced_whole=True)
    ensure_dir(out.parent, "output folder")
    work = ensure_dir(out.with_name(f".{out.name}.work"), "work folder")  # in-progress checkpoints for resume
    set_seed(cfg.seed)
    t0 = time.time()
    processor, model = _start_model(cfg)
    data = pretrain_data(processor, cfg)
    t_data = time.time() - t0
    args = _training_args(work, cfg)
    kw = dict(model=model, args=args, train_dataset=data, data_collator=lambda b: collate(b, processor))
    if cfg.vision_frozen_steps or cfg.vision_lr_scale != 1:
        trainer = VisionPhasedTrainer(**kw, frozen=cfg.vision_frozen_steps, scale=cfg.vision_lr_scale)
    else:  # every base before v5: the Trainer's own optimizer and schedule
        trainer = Trainer(**kw)
    resume = _resumable(work, cfg)
    if resume:  # the Trainer restores optimizer, scheduler and RNG but not these weights (see last_checkpoint)
        model.load_state_dict(type(model).from_pretrained(resume).state_dict())
    t1 = time.time()
    with disk_full_is_one_line(work, cleanup=lambda: drop_unfinished(work)):
        result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    t_train = time.time() - t1
    with disk_full_is_one_line(out.parent), atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        write_json(tmp / "pretrain_config.json", asdict(cfg))
        write_json(
            tmp / "pretrain_stats.json",
            {
                "examples": len(data),
                "train_seconds": round(t_train, 1),
                "data_seconds": round(t_data, 1),
                "examples_per_second": round(cfg.steps * cfg.batch_size / max(t_train, 1e-9), 1),
                "final_loss": round(float(result.training_loss), 4),
                "resumed": resume is not None,
                "params": sum(p.numel() for p in model.parameters()),
                "log": [h for h in trainer.state.log_history if "loss" in h],
            },
        )
    shutil.rmtree(work, ignore_errors=True)
    return out
