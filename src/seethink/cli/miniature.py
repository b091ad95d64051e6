"""`seethink world build|show` and `seethink pretrain`: the offline miniature's own verbs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from seethink.cli.common import finite, nonneg, positive, print_summary, split_name
from seethink.fileio import writer_lock


def world_build(a) -> None:
    from seethink.miniature.world.build import build_world
    from seethink.miniature.world.generate import WorldConfig

    cfg = WorldConfig(
        image_size=a.image_size, min_objects=a.min_objects, max_objects=a.max_objects, families=a.families
    )
    with writer_lock(a.out, "seethink world build"):
        out = build_world(
            a.out, a.seed, {"train": a.train, "validation": a.validation, "test": a.test}, cfg, tuple(a.datasets)
        )
    print(
        f"world written to {out} (seed {a.seed}, families {a.families}; {', '.join(a.datasets)}; "
        f"train/validation/test = {a.train}/{a.validation}/{a.test} per dataset)"
    )


def world_show(a) -> None:
    from seethink.miniature.world.show import contact_sheet
    from seethink.records.io import load_records

    src = Path(a.data) / a.dataset
    recs = load_records(src if src.exists() else Path(a.data), a.split)[: a.n]
    for r in recs:
        print(f"--- {r['id']} [{r['capability']}/{r['family']}]\n{r['problem']}\nanswer: {r['answer']}")
        if r.get("caption"):
            print(f"caption: {r['caption']}")
        if r.get("solution"):
            print(f"solution: {r['solution']}")
    out = Path(a.out or Path(a.data) / f"show-{a.dataset}-{a.split}.png")
    contact_sheet(recs, out)
    print(f"images: {out}")


def pretrain(a) -> None:
    from seethink.miniature.pretrain import pretrain
    from seethink.miniature.pretrain_config import PretrainConfig, load_pretrain_config

    cfg = load_pretrain_config(a.config) if a.config else PretrainConfig()
    given = {
        k: getattr(a, k)
        for k in ("size", "seed", "steps", "batch_size", "lr", "data_scale", "init")
        if getattr(a, k) is not None
    }
    cfg = dataclasses.replace(cfg, **given)  # the config checks the flags' values too
    with writer_lock(a.out, "seethink pretrain"):
        out = pretrain(a.out, cfg)
    stats = json.loads((out / "pretrain_stats.json").read_text())
    print(
        f"base written to {out}: {stats['params']:,} parameters, {stats['train_seconds']}s training, "
        f"{stats['examples_per_second']} examples/s, final loss {stats['final_loss']}"
    )
    if a.eval_data:
        from seethink.eval.evaluate import evaluate_folder

        print_summary(evaluate_folder(out, a.eval_data, "test", out / "eval"), out / "eval")


def add_parsers(sub) -> None:
    from seethink.miniature.pretrain_config import PretrainConfig  # defaults live in one place
    from seethink.miniature.sizes import SIZES
    from seethink.miniature.world import DATASETS, OPTIONAL_DATASETS
    from seethink.miniature.world.build import DEFAULT_SIZES

    world = sub.add_parser("world", help="build or inspect the synthetic visual world")
    wsub = world.add_subparsers(dest="world_command", required=True, metavar="WORLD_COMMAND")
    b = wsub.add_parser("build", help="write train/validation/test splits per capability (JSONL + PNG)")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--seed", type=nonneg, default=0)
    for split in ("train", "validation", "test"):
        b.add_argument(
            f"--{split}", type=positive, default=DEFAULT_SIZES[split], help=f"records per dataset in the {split} split"
        )
    b.add_argument("--image-size", type=positive, default=64)
    b.add_argument("--min-objects", type=positive, default=1)
    b.add_argument("--max-objects", type=positive, default=6)
    b.add_argument("--families", default="v4", help="question families: v4 (default) or v5 (docs/world.md)")
    b.add_argument(
        "--datasets",
        nargs="+",
        choices=DATASETS + OPTIONAL_DATASETS,
        default=list(DATASETS),
        metavar="DATASET",
        help=f"which datasets to write (default: all of {', '.join(DATASETS)}; also "
        f"{', '.join(OPTIONAL_DATASETS)}: two-image records); each split of a dataset "
        "is the same whatever the other datasets and the sizes of its other splits",
    )
    b.set_defaults(func=world_build)
    s = wsub.add_parser("show", help="print a few records and save their images as one PNG")
    s.add_argument("data", help="a world folder (from `world build`)")
    s.add_argument("--dataset", default="perception", help="perception | text_reasoning | visual_reasoning | captions")
    s.add_argument("--split", type=split_name, default="train")
    s.add_argument("-n", type=positive, default=4, help="how many records")
    s.add_argument("--out", help="PNG path (default: DATA/show-DATASET-SPLIT.png)")
    s.set_defaults(func=world_show)

    d = PretrainConfig()
    pt = sub.add_parser("pretrain", help="supervised-train the tiny default VLM into an RL-ready base")
    pt.add_argument("--out", required=True, help="folder for the base checkpoint")
    pt.add_argument(
        "--config",
        help="pretraining settings (YAML; the shipped base's: configs/base.yaml); the flags below override it",
    )
    pt.add_argument("--size", choices=list(SIZES), help=f"model size preset (default {d.size})")
    pt.add_argument("--steps", type=positive, help=f"optimizer steps (default {d.steps})")
    pt.add_argument("--batch-size", type=positive, help=f"examples per step (default {d.batch_size})")
    pt.add_argument("--lr", type=finite, help=f"peak learning rate (default {d.lr})")
    pt.add_argument("--seed", type=nonneg, help=f"seed (default {d.seed})")
    pt.add_argument("--data-scale", type=finite, help="fraction of the configured pretraining records (default 1)")
    pt.add_argument(
        "--init", help="continue from this base folder (written by `seethink pretrain`) instead of a new model"
    )
    pt.add_argument("--eval-data", help="a world folder: evaluate the base on its test split afterwards")
    pt.set_defaults(func=pretrain)
