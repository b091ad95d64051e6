"""`seethink eval`, `seethink passk` and `seethink report`: measure checkpoints and write them up."""

from __future__ import annotations

from pathlib import Path

from seethink.cli.common import endpoint_summary, finite, nonneg, positive, print_summary, split_name
from seethink.fileio import writer_lock


def evaluate(a) -> None:
    from seethink.eval.evaluate import EvalOptions, check_judge, evaluate_folder
    from seethink.resolve import model_path

    attribution = "judge" if a.judge and a.attribute == "none" else a.attribute  # --judge alone asks for the judge
    opts = EvalOptions(
        a.max_new_tokens,
        a.batch_size,
        a.seed,
        a.temperature,
        attribution,
        a.samples,
        a.sample_temperature,
        engine=a.engine,
    )  # checks the values before any model loads
    check_judge(attribution, bool(a.judge))
    judge = None
    if a.judge:
        from seethink.eval.judge import make_judge

        judge = make_judge(a.judge, a.judge_model, a.judge_api_key_env, sees_images=not a.judge_text_only)
    model = model_path(a.model)
    out = Path(a.out or Path("runs") / "eval" / model.name)
    with writer_lock(out, "seethink eval"):
        print_summary(evaluate_folder(model, a.data, a.split, out, opts, a.limit, judge, a.judge_cache), out)
    endpoint_summary(judge)


def add_engine(parser) -> None:
    parser.add_argument(
        "--engine",
        choices=("auto", "vllm", "transformers"),
        default="auto",
        help="auto: vLLM where it is installed (a fitting version) and a GPU is present, else batched "
        "HF generate; the same prompts, settings and scoring either way",
    )


def passk(a) -> None:
    from seethink.eval.passk import passk
    from seethink.resolve import model_path

    with writer_lock(a.data, "seethink passk"):  # pass rates are written into the data's own files
        for r in passk(
            model_path(a.model),
            a.data,
            a.split,
            a.k,
            a.batch_size,
            a.temperature,
            a.max_new_tokens,
            a.seed,
            a.top_p,
            a.top_k,
            a.engine,
        ):
            print(
                f"{r['file']}: {r['items']} items, mean pass rate {r['mean_pass_rate']:.3f}, "
                f"{r['solved']} always solved, {r['unsolved']} never solved"
            )


def report(a) -> None:
    from seethink.report.runs import write_report

    print(f"report written to {write_report(a.runs, a.out)}")


def add_parsers(sub) -> None:
    _add_eval(sub)
    _add_passk(sub)
    rp = sub.add_parser("report", help="Markdown report with plots from one or more run folders")
    rp.add_argument("runs", nargs="+", help="run folders written by `seethink train`")
    rp.add_argument("--out", required=True, help="folder for report.md and its PNG plots")
    rp.set_defaults(func=report)


def _add_eval(sub) -> None:
    ev = sub.add_parser("eval", help="evaluate a model greedily on held-out records")
    ev.add_argument("model", nargs="?", help="model folder (default: the shipped base)")
    ev.add_argument("--data", required=True, help="a world folder, a dataset folder, or a JSONL/parquet file")
    ev.add_argument("--split", type=split_name, default="test")
    ev.add_argument("--out", help="output folder (default: runs/eval/<model name>)")
    ev.add_argument("--limit", type=positive, help="at most this many records per dataset")
    ev.add_argument("--batch-size", type=positive, default=64)
    ev.add_argument("--max-new-tokens", type=positive, default=96)
    add_engine(ev)
    ev.add_argument("--seed", type=nonneg, default=0)
    ev.add_argument(
        "--temperature",
        type=finite,
        default=0.0,
        help="0 = greedy (default); > 0 samples one answer per record with this temperature",
    )
    ev.add_argument(
        "--samples",
        type=nonneg,
        default=0,
        metavar="K",
        help="also sample K answers per record and report sampled accuracy and pass@K beside greedy",
    )
    ev.add_argument("--sample-temperature", type=finite, default=1.0, help="temperature of --samples (default 1.0)")
    _add_attribution(ev)
    ev.set_defaults(func=evaluate)


def _add_attribution(ev) -> None:
    from seethink.recipe import ATTRIBUTIONS

    ev.add_argument(
        "--attribute",
        nargs="?",
        const="auto",
        default="none",
        choices=ATTRIBUTIONS,
        help="attribute each wrong answer to perception or reasoning (default method: auto, judge-free)",
    )
    ev.add_argument(
        "--judge",
        metavar="URL|FOLDER",
        help="LLM judge for --attribute judge: an OpenAI-compatible base URL "
        "(e.g. http://localhost:8000/v1) or a local HF model folder",
    )
    ev.add_argument("--judge-model", help="model name served at the --judge URL")
    ev.add_argument(
        "--judge-api-key-env",
        default="OPENAI_API_KEY",
        metavar="VAR",
        help="environment variable holding the endpoint's API key (default: OPENAI_API_KEY)",
    )
    ev.add_argument("--judge-text-only", action="store_true", help="do not send images to the judge")
    ev.add_argument(
        "--judge-cache",
        type=Path,
        metavar="FILE",
        help="JSONL of cached judge replies (default: OUT/judge_cache.jsonl)",
    )


def _add_passk(sub) -> None:
    pk = sub.add_parser("passk", help="sample K answers per item and store its pass_rate in the records")
    pk.add_argument("model", nargs="?", help="model folder (default: the shipped base)")
    pk.add_argument("--data", required=True, help="a world folder, a dataset folder, or a JSONL/parquet file")
    pk.add_argument("--split", type=split_name, default="train")
    pk.add_argument("--k", type=positive, default=16, help="samples per item")
    pk.add_argument("--batch-size", type=positive, default=16, help="items per generate call (x K sequences)")
    pk.add_argument(
        "--temperature",
        type=finite,
        default=1.0,
        help="default 1.0, the training rollouts' temperature; the paper used 0.7 with --top-p 0.9 --top-k 20",
    )
    pk.add_argument("--top-p", type=finite, default=1.0)
    pk.add_argument("--top-k", type=nonneg, default=0, help="0 = off")
    pk.add_argument(
        "--max-new-tokens",
        type=positive,
        default=1024,
        help="longest sampled answer (the paper: 1,024; generation stops at end-of-sequence)",
    )
    pk.add_argument("--seed", type=nonneg, default=0)
    add_engine(pk)
    pk.set_defaults(func=passk)
