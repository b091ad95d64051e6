"""`seethink data import|synth-perception|filter`: bring in real data as records."""

from __future__ import annotations

from pathlib import Path

from seethink.cli.common import endpoint_summary, finite, nonneg, positive, split_name
from seethink.errors import SeethinkError
from seethink.fileio import writer_lock


def data_import(a) -> None:
    from seethink.datatools.paper import import_rows

    with writer_lock(a.out, "seethink data import"):
        target, counts = import_rows(a.source, a.out, a.split, a.as_split, a.capability, a.limit or 0)
    print(
        f"{sum(counts.values())} records written to {target} "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))})"
    )


def synth(a) -> None:
    from seethink.datatools.synth import synth_perception
    from seethink.models.chat import make_chat

    gen = make_chat(
        a.generator,
        a.generator_model,
        a.api_key_env,
        sees_images=False,
        max_tokens=a.max_new_tokens,
        role="generator",
        flag="--generator-model",
    )
    with writer_lock(a.out, "seethink data synth-perception"):
        s = synth_perception(a.captions, a.out, gen, a.split, a.seed, a.limit or 0)
    skipped = sum(s["skipped"].values())
    print(
        f"{s['mcqs']} MCQs from {s['captions']} captions written to {Path(a.out) / (a.split + '.jsonl')}; "
        f"{skipped} replies skipped"
        + (f" ({', '.join(f'{k}: {v}' for k, v in s['skipped'].items())})" if skipped else "")
        + f"; correct letters {s['correct_letters']}"
    )
    endpoint_summary(gen)


def _pass_rate_range(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        low, high = (float(x) for x in text.split(":"))
    except ValueError:
        raise SeethinkError(f"--pass-rate expects LOW:HIGH, e.g. 0.1:0.9, got {text!r}") from None
    return low, high


def data_filter(a) -> None:
    from seethink.datatools.filters import FilterPlan, filter_dataset
    from seethink.fileio import check_folder_target
    from seethink.models.chat import ReplyCache, cached, tool_model

    require = tuple(x for x in a.require.split(",") if x)
    plan = FilterPlan(_pass_rate_range(a.pass_rate), a.dedup, require=require)  # checks its own values
    cache = ReplyCache(check_folder_target(a.out) / "filter_cache.jsonl", "filter-v1")

    raw = []

    def models(specs, role):
        made = [tool_model(spec, role, a.max_new_tokens, a.api_key_env) for spec in specs]
        raw.extend(made)  # for the summary of requests, retries and failures
        return [(spec, cached(m, cache, label=f"{role} {spec}")) for spec, m in zip(specs, made)]

    plan.blind, plan.keep = models(a.blind, "blind model"), models(a.keep_model, "filter model")
    with writer_lock(a.out, "seethink data filter"):
        for r in filter_dataset(a.data, a.split, a.out, plan):
            why = ", ".join(f"{k}: {v}" for k, v in r.reasons.most_common())
            print(f"{r.name:>10}: kept {r.kept}, dropped {r.dropped}" + (f" ({why})" if why else ""))
    print(
        f"kept records written to {Path(a.out) / (a.split + '.jsonl')}; dropped ones with reasons in "
        f"{a.split}.dropped.jsonl"
    )
    endpoint_summary(*raw)


def add_parsers(sub) -> None:
    dt = sub.add_parser("data", help="bring in data: the paper's datasets, MCQs from captions, filters")
    dsub = dt.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    _add_import(dsub)
    _add_synth(dsub)
    _add_filter(dsub)


def _add_import(dsub) -> None:
    im = dsub.add_parser("import", help="convert the paper's released datasets (or rows in their schemas) to records")
    im.add_argument(
        "source",
        help="a .jsonl/.json/.parquet file, a saved HF dataset folder, a folder of such files, "
        "or a hub name (needs a network)",
    )
    im.add_argument("--out", required=True, help="dataset folder to write (OUT/SPLIT.jsonl + OUT/images/)")
    im.add_argument("--split", type=split_name, default="train", help="split to read (default: train)")
    im.add_argument("--as-split", type=split_name, help="split name to write (default: --split)")
    im.add_argument(
        "--capability", help="perception | text_reasoning | visual_reasoning (default: from the data or its name)"
    )
    im.add_argument("--limit", type=positive, help="at most this many rows")
    im.set_defaults(func=data_import)


def _add_synth(dsub) -> None:
    sy = dsub.add_parser("synth-perception", help="one 4-option MCQ per dense caption, written by a generator LLM")
    sy.add_argument(
        "captions",
        help="(image, caption) rows: .jsonl/.json/.parquet, a saved HF dataset or a folder "
        "(fields: image|images|image_path|image_file|file_name and caption|description)",
    )
    sy.add_argument(
        "--generator",
        required=True,
        metavar="URL|FOLDER",
        help="an OpenAI-compatible base URL (with --generator-model) or a local HF model folder",
    )
    sy.add_argument("--generator-model", help="model name served at the --generator URL")
    sy.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR")
    sy.add_argument("--out", required=True, help="dataset folder to write")
    sy.add_argument("--split", type=split_name, default="train")
    sy.add_argument("--seed", type=nonneg, default=0, help="seed for option shuffling and letter balance")
    sy.add_argument("--limit", type=positive, help="at most this many captions")
    sy.add_argument("--max-new-tokens", type=positive, default=384)
    sy.set_defaults(func=synth)


def _add_filter(dsub) -> None:
    fl = dsub.add_parser("filter", help="drop MCQs by pass rate, near-duplicates, a blind model, the paper's keep rule")
    fl.add_argument("data", help="a dataset folder or JSONL/parquet file of records")
    fl.add_argument(
        "--out",
        required=True,
        help="folder for the kept records, SPLIT.dropped.jsonl and SPLIT.filter_report.json "
        "(not the input's own folder)",
    )
    fl.add_argument("--split", type=split_name, default="train")
    fl.add_argument("--pass-rate", metavar="LOW:HIGH", help="keep records with LOW <= pass_rate <= HIGH")
    fl.add_argument(
        "--dedup",
        type=finite,
        nargs="?",
        const=0.9,
        metavar="THRESHOLD",
        help="drop near-duplicate questions about the same image (3-gram Jaccard, default 0.9)",
    )
    fl.add_argument(
        "--blind",
        action="append",
        default=[],
        metavar="MODEL",
        help="drop questions this model answers without the image (FOLDER or URL::NAME; repeatable)",
    )
    fl.add_argument(
        "--keep-model",
        action="append",
        default=[],
        metavar="MODEL",
        help="the paper's keep rule with this filter model (FOLDER or URL::NAME; repeatable: all must agree)",
    )
    fl.add_argument(
        "--require",
        default="image-wrong,caption-right",
        help="keep-rule tests: image-wrong, caption-right or both (default: both, the paper's rule)",
    )
    fl.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR")
    fl.add_argument("--max-new-tokens", type=positive, default=64, help="longest filter-model reply")
    fl.set_defaults(func=data_filter)
