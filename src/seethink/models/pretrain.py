"""`seethink pretrain`: supervised training of the tiny default VLM into the base that RL stages start from.

GRPO needs a warm start: a base that follows the answer format and has real but imperfect skill. The base
sees dense captions (it learns what is in the image), a share of world questions answered in the final
format, and text/visual reasoning. Its data is drawn from the world generator with its own seed stream
(`pretrain`), so the records the RL stages train and evaluate on are new to it.

Simplification, on purpose: examples are encoded once up front (the processor expands image tokens and
makes pixel values) and trained with a plain `transformers.Trainer` with completion-only labels. This is
what TRL's SFTTrainer does for prompt/completion data; pre-encoding avoids re-running the image processor
every epoch, which dominates step time for a model this small. The Trainer gives the schedule, logging,
and checkpoint/resume.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import torch
from transformers import Trainer, TrainingArguments, set_seed

from seethink.fileio import atomic_dir, check_folder_target, ensure_dir, write_json
from seethink.models.load import last_checkpoint
from seethink.models.pretrain_config import PretrainConfig
from seethink.models.tiny import build_model, build_processor
from seethink.prompting import prompt_messages, target_text
from seethink.world.generate import WorldConfig, generate

IGNORE = -100


def encode(processor, records: list[dict], images: list, chunk: int = 256) -> list[dict]:
    """Tokenise prompt+target with the chat template; labels cover only the assistant turn."""
    tok = processor.tokenizer
    head = tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    start_id = tok.convert_tokens_to_ids("<|im_start|>")
    out = []
    for i in range(0, len(records), chunk):
        recs, imgs = records[i: i + chunk], images[i: i + chunk]
        texts = [processor.apply_chat_template(prompt_messages(r) + [{"role": "assistant", "content": target_text(r)}],
                                               tokenize=False) for r in recs]
        flat = [im for im in imgs if im is not None]
        enc = processor(text=texts, images=flat or None, padding=False)
        pix = iter(enc["pixel_values"]) if flat else iter(())
        for ids, im in zip(enc["input_ids"], imgs):
            cut = len(ids) - ids[::-1].index(start_id) - 1 + len(head)
            labels = [IGNORE] * cut + ids[cut:]
            item = {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels)}
            if im is not None:
                item["pixel_values"] = torch.as_tensor(next(pix))
            out.append(item)
    return out


def collate(batch: list[dict], pad_id: int) -> dict:
    n = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), n), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), n), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    for i, b in enumerate(batch):
        k = len(b["input_ids"])
        ids[i, :k], labels[i, :k], mask[i, :k] = b["input_ids"], b["labels"], 1
    out = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    pix = [b["pixel_values"] for b in batch if "pixel_values" in b]
    if pix:
        out["pixel_values"] = torch.stack(pix)
    return out


def pretrain_data(processor, cfg: PretrainConfig) -> list[dict]:
    world = WorldConfig(**cfg.world)
    records, images = [], []
    for name, n in cfg.mix.items():
        for g in generate(name, "pretrain", max(1, round(n * cfg.data_scale)), cfg.seed, world):
            records.append(g.record)
            g.record["images"] = ["<in-memory>"] if g.scene is not None else []
            images.append(g.image)
    return encode(processor, records, images)


def _resumable(work: Path, cfg: PretrainConfig) -> Path | None:
    """The checkpoint to resume, only of a run with the same settings; anything else in `work` is discarded."""
    stamp = work / "pretrain_config.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == asdict(cfg):
        return last_checkpoint(work)
    for old in work.glob("checkpoint-*"):
        shutil.rmtree(old)
    write_json(stamp, asdict(cfg))
    return None


def pretrain(out: str | Path, cfg: PretrainConfig = PretrainConfig()) -> Path:
    """Build, train and save the base to `out` (model + processor + pretrain_config.json)."""
    out = check_folder_target(out)  # before minutes of training, not at the final save
    ensure_dir(out.parent, "output folder")
    work = ensure_dir(out.with_name(f".{out.name}.work"), "work folder")  # in-progress checkpoints for resume
    set_seed(cfg.seed)
    t0 = time.time()
    processor = build_processor(image_size=cfg.world["image_size"])
    model = build_model(processor, cfg.size, image_size=cfg.world["image_size"], seed=cfg.seed)
    data = pretrain_data(processor, cfg)
    t_data = time.time() - t0
    args = TrainingArguments(
        output_dir=str(work), max_steps=cfg.steps, per_device_train_batch_size=cfg.batch_size, learning_rate=cfg.lr,
        warmup_steps=cfg.warmup_steps, lr_scheduler_type="cosine", weight_decay=cfg.weight_decay,
        logging_steps=50, save_steps=min(500, max(1, cfg.steps // 4)), save_total_limit=1, report_to="none",
        use_cpu=True, seed=cfg.seed, data_seed=cfg.seed, dataloader_num_workers=0, remove_unused_columns=False, disable_tqdm=False)
    trainer = Trainer(model=model, args=args, train_dataset=data,
                      data_collator=lambda b: collate(b, processor.tokenizer.pad_token_id))
    resume = _resumable(work, cfg)
    if resume:  # the Trainer restores optimizer, scheduler and RNG but not these weights (see last_checkpoint)
        model.load_state_dict(type(model).from_pretrained(resume).state_dict())
    t1 = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    t_train = time.time() - t1
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        write_json(tmp / "pretrain_config.json", asdict(cfg))
        write_json(tmp / "pretrain_stats.json", {
            "examples": len(data), "train_seconds": round(t_train, 1), "data_seconds": round(t_data, 1),
            "examples_per_second": round(cfg.steps * cfg.batch_size / max(t_train, 1e-9), 1),
            "final_loss": round(float(result.training_loss), 4), "resumed": resume is not None,
            "params": sum(p.numel() for p in model.parameters()),
            "log": [h for h in trainer.state.log_history if "loss" in h]})
    shutil.rmtree(work, ignore_errors=True)
    return out

