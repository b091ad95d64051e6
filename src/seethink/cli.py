"""The `seethink` command: parses arguments and calls one function per verb.

User errors (SeethinkError) print one line and exit 2; Ctrl-C exits 130. Everything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seethink import __version__
from seethink.errors import SeethinkError


def _int_at_least(low: int):
    """An argparse type: a whole number >= low."""

    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be > {low - 1}, got {v}" if low == 1 else f"must be >= {low}, got {v}")
        return v

    return parse


_positive, _nonneg = _int_at_least(1), _int_at_least(0)


# ---------------------------------------------------------------- world

def cmd_world_build(a) -> None:
    from seethink.world.build import build_world
    from seethink.world.generate import WorldConfig

    if not 1 <= a.min_objects <= a.max_objects <= 9:
        raise SeethinkError(f"--min-objects/--max-objects must satisfy 1 <= min <= max <= 9, got {a.min_objects}, {a.max_objects}")
    if a.image_size < 32:
        raise SeethinkError(f"--image-size must be >= 32, got {a.image_size}")
    cfg = WorldConfig(image_size=a.image_size, min_objects=a.min_objects, max_objects=a.max_objects)
    out = build_world(a.out, a.seed, {"train": a.train, "validation": a.validation, "test": a.test}, cfg, tuple(a.datasets))
    print(f"world written to {out} (seed {a.seed}; {', '.join(a.datasets)}; "
          f"train/validation/test = {a.train}/{a.validation}/{a.test} per dataset)")


def cmd_world_show(a) -> None:
    from seethink.data.io import load_records
    from seethink.world.show import contact_sheet

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


# ---------------------------------------------------------------- pretrain

def cmd_pretrain(a) -> None:
    import dataclasses

    from seethink.models.pretrain import pretrain
    from seethink.models.pretrain_config import PretrainConfig, load_pretrain_config

    cfg = load_pretrain_config(a.config) if a.config else PretrainConfig()
    given = {k: getattr(a, k) for k in ("size", "seed", "steps", "batch_size", "lr", "data_scale")
             if getattr(a, k) is not None}
    cfg = dataclasses.replace(cfg, **given)  # checked again: a bad flag is one line naming its setting
    out = pretrain(a.out, cfg)
    stats = json.loads((out / "pretrain_stats.json").read_text())
    print(f"base written to {out}: {stats['params']:,} parameters, {stats['train_seconds']}s training, "
          f"{stats['examples_per_second']} examples/s, final loss {stats['final_loss']}")
    if a.eval_data:
        from seethink.eval.evaluate import evaluate_folder

        _print_summary(evaluate_folder(out, a.eval_data, "test", out / "eval"), out / "eval")


# ---------------------------------------------------------------- eval

def _console():
    from rich.console import Console

    return Console(width=max(Console().width, 110))  # pipes default to 80 columns, too narrow for the tables


def _print_summary(summary: dict, out: Path) -> None:
    from rich.table import Table

    table = Table(title=f"{summary['model']} on {summary['data']} [{summary['split']}]")
    k = summary.get("sampling", {}).get("k")
    sampled = ("sampled", f"pass@{k}") if k else ()
    for col in ("capability / family", "n", "accuracy", "95% CI", *sampled, "prior", "format", "tokens", "think"):
        table.add_column(col)
    for key, s in list(summary["capability"].items()) + list(summary["family"].items()):
        prior = summary["prior"].get(key)
        table.add_row(key, str(s["n"]), f"{s['accuracy']:.3f}", f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]",
                      *((f"{s['sampled_accuracy']:.3f}", f"{s['pass_at_k']:.3f}") if k else ()),
                      "" if prior is None else f"{prior:.3f}", f"{s['format']:.3f}", f"{s['mean_tokens']:.1f}",
                      f"{s['mean_think_tokens']:.1f}")
    _console().print(table)
    if "attribution" in summary:
        _print_attribution(summary["attribution"])
    n = sum(s["n"] for s in summary["capability"].values())
    print(f"{n} samples in {summary['seconds']}s ({summary['samples_per_second']}/s); "
          f"written to {out}/samples.jsonl and {out}/summary.json")


def _print_attribution(att: dict) -> None:
    from rich.table import Table

    table = Table(title="wrong answers by cause")
    for col in ("capability", "errors", "perception", "reasoning", "unattributed", "perception share"):
        table.add_column(col, no_wrap=True)
    for key, s in att.items():
        lo, hi = s["perception_share_ci95"]
        table.add_row(key, str(s["errors"]), str(s["perception"]), str(s["reasoning"]), str(s["unattributed"]),
                      f"{s['perception_share']:.2f} [{lo:.2f}, {hi:.2f}]")
    _console().print(table)


def cmd_eval(a) -> None:
    from seethink.eval.datasets import find_datasets
    from seethink.models.base import base_path

    if a.temperature < 0:
        raise SeethinkError(f"--temperature must be >= 0 (0 = greedy), got {a.temperature}")
    if a.samples and not a.sample_temperature > 0:
        raise SeethinkError(f"--sample-temperature must be > 0, got {a.sample_temperature}")
    if a.judge and a.attribute == "none":
        a.attribute = "judge"
    if a.attribute == "judge" and not a.judge:
        raise SeethinkError("--attribute judge needs --judge URL|FOLDER (an OpenAI-compatible endpoint or a local model)")
    if a.judge and a.attribute != "judge":
        raise SeethinkError(f"--judge is used by --attribute judge, not by --attribute {a.attribute}")
    find_datasets(a.data, a.split)  # a wrong data path is reported before anything else
    judge = None
    if a.judge:
        from seethink.eval.judge import make_judge

        judge = make_judge(a.judge, a.judge_model, a.judge_api_key_env, sees_images=not a.judge_text_only)
    model = a.model or base_path()
    from seethink.eval.evaluate import evaluate_folder

    out = Path(a.out or Path("runs") / "eval" / Path(model).name)
    _print_summary(evaluate_folder(model, a.data, a.split, out, a.limit, a.batch_size, a.max_new_tokens, a.seed,
                                   a.attribute, a.temperature, judge, a.judge_cache, a.samples, a.sample_temperature), out)


def cmd_passk(a) -> None:
    from seethink.models.base import base_path
    from seethink.passk import passk

    for r in passk(a.model or base_path(), a.data, a.split, a.k, a.batch_size, a.temperature, a.max_new_tokens, a.seed,
                   a.top_p, a.top_k):
        print(f"{r['file']}: {r['items']} items, mean pass rate {r['mean_pass_rate']:.3f}, "
              f"{r['solved']} always solved, {r['unsolved']} never solved")


def cmd_report(a) -> None:
    from seethink.report import write_report

    print(f"report written to {write_report(a.runs, a.out)}")


# ---------------------------------------------------------------- data

def cmd_data_import(a) -> None:
    from seethink.data.paper import import_rows

    target, counts = import_rows(a.source, a.out, a.split, a.as_split, a.capability, a.limit or 0)
    print(f"{sum(counts.values())} records written to {target} "
          f"({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))})")


def _tool_model(spec: str, role: str, max_tokens: int, api_key_env: str):
    """A filter model or generator from `FOLDER` or `URL::SERVED_NAME`."""
    from seethink.llm import make_chat

    url, _, served = spec.partition("::") if "://" in spec else (spec, "", "")
    return make_chat(url, served or None, api_key_env, True, max_tokens, role=role, flag="URL::NAME")


def cmd_data_synth(a) -> None:
    from seethink.data.synth import synth_perception
    from seethink.llm import make_chat

    gen = make_chat(a.generator, a.generator_model, a.api_key_env, sees_images=False, max_tokens=a.max_new_tokens,
                    role="generator", flag="--generator-model")
    s = synth_perception(a.captions, a.out, gen, a.split, a.seed, a.limit or 0)
    skipped = sum(s["skipped"].values())
    print(f"{s['mcqs']} MCQs from {s['captions']} captions written to {Path(a.out) / (a.split + '.jsonl')}; "
          f"{skipped} replies skipped" + (f" ({', '.join(f'{k}: {v}' for k, v in s['skipped'].items())})" if skipped else "")
          + f"; correct letters {s['correct_letters']}")


def cmd_data_filter(a) -> None:
    from seethink.data.filters import REQUIRE, FilterPlan, filter_dataset
    from seethink.llm import ReplyCache, cached

    require = tuple(x for x in a.require.split(",") if x)
    if not require or any(x not in REQUIRE for x in require):
        raise SeethinkError(f"--require must name one or both of {', '.join(REQUIRE)}, got {a.require!r}")
    pass_rate = None
    if a.pass_rate:
        try:
            low, high = (float(x) for x in a.pass_rate.split(":"))
        except ValueError:
            raise SeethinkError(f"--pass-rate expects LOW:HIGH, e.g. 0.1:0.9, got {a.pass_rate!r}") from None
        if not 0 <= low <= high <= 1:
            raise SeethinkError(f"--pass-rate needs 0 <= LOW <= HIGH <= 1, got {a.pass_rate}")
        pass_rate = (low, high)
    if a.dedup is not None and not 0 < a.dedup <= 1:
        raise SeethinkError(f"--dedup must be in (0, 1], got {a.dedup}")
    from seethink.fileio import check_folder_target

    cache = ReplyCache(check_folder_target(a.out) / "filter_cache.jsonl", "filter-v1")

    def models(specs, role):
        return [(spec, cached(_tool_model(spec, role, a.max_new_tokens, a.api_key_env), cache, label=f"{role} {spec}"))
                for spec in specs]

    plan = FilterPlan(pass_rate, a.dedup, models(a.blind, "blind model"), models(a.keep_model, "filter model"), require)
    results = filter_dataset(a.data, a.split, a.out, plan)
    for r in results:
        why = ", ".join(f"{k}: {v}" for k, v in r.reasons.most_common())
        print(f"{r.name:>10}: kept {r.kept}, dropped {r.dropped}" + (f" ({why})" if why else ""))
    print(f"kept records written to {Path(a.out) / (a.split + '.jsonl')}; dropped ones with reasons in dropped.jsonl")


# ---------------------------------------------------------------- export

def cmd_export_verl(a) -> None:
    from seethink.export.verl import export_verl
    from seethink.recipe import load_recipe
    from seethink.train.run import resolve_data

    recipe = load_recipe(a.recipe, a.set)
    out = export_verl(recipe, resolve_data(recipe), a.out, a.gpus)
    print(f"{len(recipe.stages)} stage(s) of {recipe.name} exported to {out}; on the cluster: "
          f"EASYR1_HOME=/path/to/EasyR1 bash {out / 'launch_easyr1.sh'}")


# ---------------------------------------------------------------- train

def default_recipe() -> Path:
    from seethink.recipe import RECIPES_DIR

    for cand in (Path("recipes/staged.yaml"), RECIPES_DIR / "staged.yaml"):
        if cand.is_file():
            return cand
    raise SeethinkError("no recipe given and recipes/staged.yaml not found; pass a recipe path")


def cmd_train(a) -> None:
    from seethink.recipe import load_recipe

    recipe = load_recipe(a.recipe or default_recipe(), a.set)
    if a.null:
        from seethink.recipe import null_control

        recipe = null_control(recipe)
    if a.dry_run:
        import yaml

        from seethink.recipe import to_dict

        print(yaml.safe_dump(to_dict(recipe), sort_keys=False))
        return
    from seethink.train.run import run_recipe

    from seethink.train.dist import say

    say(f"done: {run_recipe(recipe)}")


def cmd_experiment_paper(a) -> None:
    import dataclasses

    from seethink.experiment import CONFIGS, FULL, QUICK, run_paper

    plan = QUICK if a.quick else FULL
    if a.seeds is not None:
        plan = dataclasses.replace(plan, seeds=tuple(range(a.seeds)))
    if a.step_scale is not None:
        if not 0 < a.step_scale <= 1:
            raise SeethinkError(f"--step-scale must be in (0, 1], got {a.step_scale}")
        plan = dataclasses.replace(plan, step_scale=a.step_scale)
    out = Path(a.out or ("experiments/paper-quick" if a.quick else "experiments/paper"))
    only = tuple(x.strip() for x in a.only.split(",")) if a.only else CONFIGS
    # the full study (also when run in --only pieces) is the project's result: its report goes to docs/
    report = Path("docs/reproduction.md") if plan == FULL and a.out is None and a.world is None else None
    if a.report_only:
        from seethink.experiment import write_report

        if not (out / "results").is_dir():
            raise SeethinkError(f"{out}: no results/ folder; run the study first")
        print(f"report written to {write_report(out, report)}")
        return
    print(f"report written to {run_paper(out, plan, only, report, Path(a.world) if a.world else None)}")


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    from seethink.world import DATASETS

    p = argparse.ArgumentParser(prog="seethink", description="Post-train VLMs along a capability curriculum: see first, then think.")
    p.add_argument("--version", action="version", version=f"seethink {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    world = sub.add_parser("world", help="build or inspect the synthetic visual world")
    wsub = world.add_subparsers(dest="world_command", required=True, metavar="WORLD_COMMAND")
    b = wsub.add_parser("build", help="write train/validation/test splits per capability (JSONL + PNG)")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--seed", type=_nonneg, default=0)
    b.add_argument("--train", type=_positive, default=2000, help="records per dataset in the train split")
    b.add_argument("--validation", type=_positive, default=200)
    b.add_argument("--test", type=_positive, default=700)
    b.add_argument("--image-size", type=_positive, default=64)
    b.add_argument("--min-objects", type=_positive, default=1)
    b.add_argument("--max-objects", type=_positive, default=6)
    b.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS), metavar="DATASET",
                   help=f"which datasets to write (default: all of {', '.join(DATASETS)}); each split of a dataset "
                        "is the same whatever the other datasets and the sizes of its other splits")
    b.set_defaults(func=cmd_world_build)
    s = wsub.add_parser("show", help="print a few records and save their images as one PNG")
    s.add_argument("data", help="a world folder (from `world build`)")
    s.add_argument("--dataset", default="perception", help="perception | text_reasoning | visual_reasoning | captions")
    s.add_argument("--split", default="train")
    s.add_argument("-n", type=_positive, default=4, help="how many records")
    s.add_argument("--out", help="PNG path (default: DATA/show-DATASET-SPLIT.png)")
    s.set_defaults(func=cmd_world_show)

    from seethink.models.pretrain_config import SIZE_NAMES, PretrainConfig  # defaults live in one place: the config

    d = PretrainConfig()
    pt = sub.add_parser("pretrain", help="supervised-train the tiny default VLM into an RL-ready base")
    pt.add_argument("--out", required=True, help="folder for the base checkpoint")
    pt.add_argument("--config", help="pretraining settings (YAML; the shipped base's: configs/base.yaml); "
                                     "the flags below override it")
    pt.add_argument("--size", choices=list(SIZE_NAMES), help=f"model size preset (default {d.size})")
    pt.add_argument("--steps", type=_positive, help=f"optimizer steps (default {d.steps})")
    pt.add_argument("--batch-size", type=_positive, help=f"examples per step (default {d.batch_size})")
    pt.add_argument("--lr", type=float, help=f"peak learning rate (default {d.lr})")
    pt.add_argument("--seed", type=_nonneg, help=f"seed (default {d.seed})")
    pt.add_argument("--data-scale", type=float, help="fraction of the configured pretraining records (default 1)")
    pt.add_argument("--eval-data", help="a world folder: evaluate the base on its test split afterwards")
    pt.set_defaults(func=cmd_pretrain)

    tr = sub.add_parser("train", help="run a recipe (default: the staged recipe on the built-in world)")
    tr.add_argument("recipe", nargs="?", help="recipe YAML (default: recipes/staged.yaml)")
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a recipe field, e.g. --set stages.0.steps=2 (repeatable)")
    tr.add_argument("--null", action="store_true",
                    help="the null control: the same recipe with rewards shuffled within each group, run as NAME-null")
    tr.add_argument("--dry-run", action="store_true", help="validate and print the resolved recipe, then stop")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("eval", help="evaluate a model greedily on held-out records")
    ev.add_argument("model", nargs="?", help="model folder (default: the shipped base)")
    ev.add_argument("--data", required=True, help="a world folder, a dataset folder, or a JSONL/parquet file")
    ev.add_argument("--split", default="test")
    ev.add_argument("--out", help="output folder (default: runs/eval/<model name>)")
    ev.add_argument("--limit", type=_positive, help="at most this many records per dataset")
    ev.add_argument("--batch-size", type=_positive, default=64)
    ev.add_argument("--max-new-tokens", type=_positive, default=96)
    ev.add_argument("--seed", type=_nonneg, default=0)
    ev.add_argument("--temperature", type=float, default=0.0,
                    help="0 = greedy (default); > 0 samples one answer per record with this temperature")
    ev.add_argument("--samples", type=_nonneg, default=0, metavar="K",
                    help="also sample K answers per record and report sampled accuracy and pass@K beside greedy")
    ev.add_argument("--sample-temperature", type=float, default=1.0, help="temperature of --samples (default 1.0)")
    ev.add_argument("--attribute", nargs="?", const="auto", default="none",
                    choices=["none", "auto", "facts", "caption", "judge"],
                    help="attribute each wrong answer to perception or reasoning (default method: auto, judge-free)")
    ev.add_argument("--judge", metavar="URL|FOLDER",
                    help="LLM judge for --attribute judge: an OpenAI-compatible base URL "
                         "(e.g. http://localhost:8000/v1) or a local HF model folder")
    ev.add_argument("--judge-model", help="model name served at the --judge URL")
    ev.add_argument("--judge-api-key-env", default="OPENAI_API_KEY", metavar="VAR",
                    help="environment variable holding the endpoint's API key (default: OPENAI_API_KEY)")
    ev.add_argument("--judge-text-only", action="store_true", help="do not send images to the judge")
    ev.add_argument("--judge-cache", type=Path, metavar="FILE",
                    help="JSONL of cached judge replies (default: OUT/judge_cache.jsonl)")
    ev.set_defaults(func=cmd_eval)

    pk = sub.add_parser("passk", help="sample K answers per item and store its pass_rate in the records")
    pk.add_argument("model", nargs="?", help="model folder (default: the shipped base)")
    pk.add_argument("--data", required=True, help="a world folder, a dataset folder, or a JSONL/parquet file")
    pk.add_argument("--split", default="train")
    pk.add_argument("--k", type=_positive, default=16, help="samples per item")
    pk.add_argument("--batch-size", type=_positive, default=16, help="items per generate call (x K sequences)")
    pk.add_argument("--temperature", type=float, default=1.0,
                    help="default 1.0, the training rollouts' temperature; the paper used 0.7 with --top-p 0.9 --top-k 20")
    pk.add_argument("--top-p", type=float, default=1.0)
    pk.add_argument("--top-k", type=_nonneg, default=0, help="0 = off")
    pk.add_argument("--max-new-tokens", type=_positive, default=96)
    pk.add_argument("--seed", type=_nonneg, default=0)
    pk.set_defaults(func=cmd_passk)

    dt = sub.add_parser("data", help="bring in data: the paper's datasets, MCQs from captions, filters")
    dsub = dt.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    im = dsub.add_parser("import", help="convert the paper's released datasets (or rows in their schemas) to records")
    im.add_argument("source", help="a .jsonl/.json/.parquet file, a saved HF dataset folder, a folder of such files, "
                                   "or a hub name (needs a network)")
    im.add_argument("--out", required=True, help="dataset folder to write (OUT/SPLIT.jsonl + OUT/images/)")
    im.add_argument("--split", default="train", help="split to read (default: train)")
    im.add_argument("--as-split", help="split name to write (default: --split)")
    im.add_argument("--capability", help="perception | text_reasoning | visual_reasoning (default: from the data or its name)")
    im.add_argument("--limit", type=_positive, help="at most this many rows")
    im.set_defaults(func=cmd_data_import)
    sy = dsub.add_parser("synth-perception", help="one 4-option MCQ per dense caption, written by a generator LLM")
    sy.add_argument("captions", help="(image, caption) rows: .jsonl/.json/.parquet, a saved HF dataset or a folder "
                                     "(fields: image|images|image_path|image_file|file_name and caption|description)")
    sy.add_argument("--generator", required=True, metavar="URL|FOLDER",
                    help="an OpenAI-compatible base URL (with --generator-model) or a local HF model folder")
    sy.add_argument("--generator-model", help="model name served at the --generator URL")
    sy.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR")
    sy.add_argument("--out", required=True, help="dataset folder to write")
    sy.add_argument("--split", default="train")
    sy.add_argument("--seed", type=_nonneg, default=0, help="seed for option shuffling and letter balance")
    sy.add_argument("--limit", type=_positive, help="at most this many captions")
    sy.add_argument("--max-new-tokens", type=_positive, default=384)
    sy.set_defaults(func=cmd_data_synth)
    fl = dsub.add_parser("filter", help="drop MCQs by pass rate, near-duplicates, a blind model, the paper's keep rule")
    fl.add_argument("data", help="a dataset folder or JSONL/parquet file of records")
    fl.add_argument("--out", required=True, help="folder for the kept records, dropped.jsonl and filter_report.json")
    fl.add_argument("--split", default="train")
    fl.add_argument("--pass-rate", metavar="LOW:HIGH", help="keep records with LOW <= pass_rate <= HIGH")
    fl.add_argument("--dedup", type=float, nargs="?", const=0.9, metavar="THRESHOLD",
                    help="drop near-duplicate questions about the same image (3-gram Jaccard, default 0.9)")
    fl.add_argument("--blind", action="append", default=[], metavar="MODEL",
                    help="drop questions this model answers without the image (FOLDER or URL::NAME; repeatable)")
    fl.add_argument("--keep-model", action="append", default=[], metavar="MODEL",
                    help="the paper's keep rule with this filter model (FOLDER or URL::NAME; repeatable: all must agree)")
    fl.add_argument("--require", default="image-wrong,caption-right",
                    help="keep-rule tests: image-wrong, caption-right or both (default: both, the paper's rule)")
    fl.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR")
    fl.add_argument("--max-new-tokens", type=_positive, default=64, help="longest filter-model reply")
    fl.set_defaults(func=cmd_data_filter)

    xo = sub.add_parser("export", help="write a recipe out for a cluster engine")
    xosub = xo.add_subparsers(dest="export_command", required=True, metavar="ENGINE")
    xv = xosub.add_parser("verl", help="EasyR1/verl: per-stage parquet, reward module, configs, a chained launch script")
    xv.add_argument("recipe", help="recipe YAML (GRPO stages)")
    xv.add_argument("--out", required=True, help="export folder (written whole, or not at all)")
    xv.add_argument("--gpus", type=_positive, default=8,
                    help="GPUs per node; a recipe's batch_size is per device, so prompts per step scale with it")
    xv.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    xv.set_defaults(func=cmd_export_verl)

    xp = sub.add_parser("experiment", help="studies made of many runs")
    xsub = xp.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    pp = xsub.add_parser("paper", help="the paper's comparisons on the miniature, over seeds, with verdicts (resumable)")
    pp.add_argument("--quick", action="store_true", help="2 seeds, 1/5 of the steps, validation split: indicative only")
    pp.add_argument("--out", help="experiment folder (default: experiments/paper, or experiments/paper-quick)")
    pp.add_argument("--only", help="comma-separated configurations to run (default: all)")
    pp.add_argument("--seeds", type=_positive, help="number of seeds (default: 3, quick 2)")
    pp.add_argument("--step-scale", type=float, help="multiply every stage's steps (default: 1, quick 0.2)")
    pp.add_argument("--world", help="use this world folder instead of building one under --out")
    pp.add_argument("--report-only", action="store_true", help="rewrite the report from the finished runs; train nothing")
    pp.set_defaults(func=cmd_experiment_paper)

    rp = sub.add_parser("report", help="Markdown report with plots from one or more run folders")
    rp.add_argument("runs", nargs="+", help="run folders written by `seethink train`")
    rp.add_argument("--out", required=True, help="folder for report.md and its PNG plots")
    rp.set_defaults(func=cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SeethinkError as e:
        print(f"seethink: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("seethink: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
