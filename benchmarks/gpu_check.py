"""One-shot GPU check: does the real path run, and how fast, on one GPU with no network?

    python benchmarks/gpu_check.py --out gpu_check.json            # ~1.3B random Qwen2.5-VL, 1,008² images
    python benchmarks/gpu_check.py --size tiny --out check.json    # seconds on CPU (tests/test_gpu_check.py)

Builds a random Qwen2.5-VL from configs (text hidden 2048, 8 layers; vision depth 8; a tokenizer padded to the real
vocabulary of 151,936 tokens), saves it as a Hugging Face folder, and runs each section in its own process under
its own timeout, going on past any failure: environment (flash-attn / vLLM / DeepSpeed present); the load dtype
and attention seethink picks; forward TFLOP/s fp32 vs bf16; evaluation `generate` records/s at batch 1/16/64 and
the projection to 1,000 records × 2,048 tokens; pass@8 batched vs one item per call; two GRPO rounds through
`run_stage` (phase timings, real vs padded tokens/s, MFU against the chip's bf16 peak, peak memory); the memory
plan's estimate beside the measured peak; reward throughput on 4,096 completions. Prints each section's figures
and writes all of them to --out (JSON, atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REAL_VOCAB = 151_936  # Qwen2.5-VL's
SIZES = {  # text hidden/layers/heads/intermediate, vision depth/hidden, image side, new tokens, records
    "full": dict(
        hidden=2048,
        layers=8,
        heads=16,
        kv=2,
        inter=11008,
        vdepth=8,
        vhidden=1280,
        side=1008,
        vocab=REAL_VOCAB,
        new_tokens=256,
        grpo_completion=256,
        records=64,
    ),
    "tiny": dict(
        hidden=64,
        layers=2,
        heads=2,
        kv=1,
        inter=128,
        vdepth=1,
        vhidden=64,
        side=56,
        vocab=0,
        new_tokens=8,
        grpo_completion=8,
        records=8,
    ),
}
BF16_PEAK = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12}  # dense bf16 FLOP/s
SECTIONS = ("environment", "load", "forward", "generate", "passk", "grpo", "reward")
TIMEOUTS = {"environment": 60, "load": 120, "forward": 120, "generate": 150, "passk": 90, "grpo": 180, "reward": 60}


def build_model(out: Path, size: str) -> None:
    """A random Qwen2.5-VL and its processor, saved as a model folder (offline: configs only)."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessorPil,
    )

    from seethink.miniature.base import base_path
    from seethink.models.load import load_processor
    from seethink.models.processors import image_only

    s = SIZES[size]
    tok = load_processor(base_path()).tokenizer
    tok.add_tokens(["<|vision_start|>", "<|image_pad|>", "<|vision_end|>", "<|video_pad|>"], special_tokens=True)
    if s["vocab"] > len(tok):  # the real vocabulary's size: the logits and the sampler cost what they cost
        tok.add_tokens([f"<|pad{i}|>" for i in range(s["vocab"] - len(tok))])
    template = tok.chat_template.replace("<image>", "<|vision_start|><|image_pad|><|vision_end|>")
    pixels = s["side"] ** 2
    images = Qwen2VLImageProcessorPil(
        patch_size=14, merge_size=2, temporal_patch_size=2, min_pixels=pixels, max_pixels=pixels
    )
    head = s["hidden"] // s["heads"]
    text = dict(
        vocab_size=len(tok),
        hidden_size=s["hidden"],
        intermediate_size=s["inter"],
        num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"],
        num_key_value_heads=s["kv"],
        max_position_embeddings=8192,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 1e6,
            "mrope_section": [head // 8, head // 8 * 3 // 2, head // 2 - head // 8 - head // 8 * 3 // 2],
        },
    )
    vision = dict(
        depth=s["vdepth"],
        hidden_size=s["vhidden"],
        num_heads=max(1, s["vhidden"] // 80),
        intermediate_size=s["vhidden"] * 2,
        out_hidden_size=s["hidden"],
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        in_channels=3,
        window_size=112,
        fullatt_block_indexes=[s["vdepth"] - 1],
    )
    proc = image_only(Qwen2_5_VLProcessor)(image_processor=images, tokenizer=tok, chat_template=template)
    config = Qwen2_5_VLConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=proc.image_token_id,
        video_token_id=proc.video_token_id,
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"),
    )
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = tok.pad_token_id, tok.eos_token_id
    model.save_pretrained(out)
    proc.save_pretrained(out)


def build_records(out: Path, size: str, n: int) -> Path:
    """A perception-style dataset of `n` MCQs on random images of the size's side (train and validation)."""
    from PIL import Image

    side, rng = SIZES[size]["side"], random.Random(0)
    (out / "images").mkdir(parents=True)
    rows = []
    for i in range(n):
        img = Image.frombytes("RGB", (side, side), bytes(rng.getrandbits(8) for _ in range(side * side * 3)))
        img.save(out / "images" / f"{i}.png")
        rows.append(
            {
                "id": f"r{i}",
                "capability": "perception",
                "images": [f"images/{i}.png"],
                "problem": "What colour is the largest shape?\nA. red\nB. blue\nC. green\nD. white",
                "answer": "ABCD"[i % 4],
                "options": ["red", "blue", "green", "white"],
            }
        )
    for split in ("train", "validation"):
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def _sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak_gb() -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 1e9, 2) if torch.cuda.is_available() else None


def environment(ctx) -> dict:
    import importlib.util

    import torch
    import transformers
    import trl

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    from seethink.models.vllm_support import vllm_problem

    return {
        "gpu": gpu,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "cuda": torch.version.cuda,
        **{f"{m}_installed": importlib.util.find_spec(m) is not None for m in ("flash_attn", "vllm", "deepspeed")},
        "vllm_problem": vllm_problem(),
    }


def load(ctx) -> dict:
    from seethink.models.load import load_weights

    t = time.time()
    model = load_weights(ctx["model"])
    return {
        "dtype": str(model.dtype),
        "attn_implementation": model.config._attn_implementation,
        "parameters": sum(p.numel() for p in model.parameters()),
        "load_seconds": round(time.time() - t, 1),
    }


def forward(ctx) -> dict:
    """Text-only forward passes (batch 8 × 1,024 tokens, 128 on tiny): 2 × parameters × tokens FLOPs each."""
    import torch

    from seethink.models.load import load_weights

    out = {}
    for dtype in (torch.float32, torch.bfloat16):
        model = load_weights(ctx["model"], dtype=dtype)
        n = sum(p.numel() for p in model.parameters())
        length = 1024 if ctx["size"] == "full" else 128
        ids = torch.randint(0, min(1000, model.config.text_config.vocab_size), (8, length), device=model.device)
        with torch.inference_mode():
            model(input_ids=ids)
            _sync()
            t = time.time()
            for _ in range(3):
                model(input_ids=ids)
            _sync()
        out[f"tflops_{str(dtype).split('.')[-1]}"] = round(3 * 2 * n * ids.numel() / (time.time() - t) / 1e12, 2)
        del model
    return out


def _records(ctx, n):
    from seethink.records.io import load_records

    return load_records(ctx["data"], "validation")[:n]


def generate_speed(ctx) -> dict:
    from seethink.models.generate import generate
    from seethink.models.load import load_model

    model, processor = load_model(ctx["model"])
    new = SIZES[ctx["size"]]["new_tokens"]
    out = {"new_tokens": new}
    for batch in (1, 16, 64):
        recs = _records(ctx, batch)
        _sync()
        t = time.time()
        comps = generate(model, processor, recs, max_new_tokens=new, batch_size=batch, show=False)
        _sync()
        seconds = time.time() - t
        tokens = sum(c[0].n_tokens for c in comps)
        out[f"batch{batch}"] = {
            "records_per_s": round(len(recs) / seconds, 3),
            "tokens_per_s": round(tokens / seconds, 1),
        }
    best = out["batch64"]["tokens_per_s"]
    out["projected_minutes_1000x2048"] = round(1000 * 2048 / max(best, 1e-9) / 60, 1)
    out["peak_gb"] = _peak_gb()
    return out


def passk_speed(ctx) -> dict:
    from seethink.eval.passk import sample_correct
    from seethink.models.load import load_model

    model, processor = load_model(ctx["model"])
    recs, new = _records(ctx, 8), SIZES[ctx["size"]]["new_tokens"]
    t = time.time()
    sample_correct(model, processor, recs, 8, 0, 1.0, new)
    batched = time.time() - t
    t = time.time()
    for r in recs:
        sample_correct(model, processor, [r], 8, 0, 1.0, new)
    single = time.time() - t
    return {"batched_s": round(batched, 2), "per_item_s": round(single, 2), "speedup": round(single / batched, 2)}


def grpo(ctx) -> dict:
    """Two GRPO rounds through `run_stage`, with TRL's timings and the memory plan beside the measured peak."""
    import torch

    from seethink.recipe import DataSource, Hardware, Recipe, Stage
    from seethink.train.memory import memory_report
    from seethink.train.plan import plan_stage, planning_processor
    from seethink.train.stage import run_stage

    s = SIZES[ctx["size"]]
    stage = Stage(
        name="perception",
        data=[DataSource(path=str(ctx["data"]))],
        steps=2,
        batch_size=8,
        num_generations=4,
        rollout_batch_size=8,
        max_completion_length=s["grpo_completion"],
        micro_batch_size=2,
        beta=0.01,
        lr=1e-6,
    )
    recipe = Recipe(
        name="gpu-check",
        stages=[stage],
        model=str(ctx["model"]),
        data=str(ctx["data"]),
        output_dir=str(ctx["work"]),
        hardware=Hardware(gpus=1, gpu_memory_gb=ctx["gpu_gb"]),
    )
    plan, _ = memory_report(recipe, Path(ctx["model"]), "none", 1)
    stage_dir = Path(ctx["work"]) / "stage"
    phases = _timed_phases()
    t = time.time()
    setup = plan_stage(stage, recipe, Path(ctx["data"]), stage_dir, planning_processor(recipe, Path(ctx["model"])))
    run_stage(setup, Path(ctx["model"]), stage_dir)
    seconds = time.time() - t
    rows = [json.loads(line) for line in (stage_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    length = sum(r.get("completion_length", 0) for r in rows) / max(len(rows), 1)
    step = phases.pop("step")  # a training step = its rollout (every round's first step) + the update
    phases["update"] = {**step, "seconds": round(step["seconds"] - phases["rollout"]["seconds"], 2)}
    params = ctx.get("params", 0)
    real_tokens = 2 * 8 * length  # two updates of 8 completions
    padded_tokens = 2 * 8 * s["grpo_completion"]
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    peak = next((v for k, v in BF16_PEAK.items() if k in gpu), None)
    flops = 6 * params * real_tokens
    return {
        "seconds": round(seconds, 1),
        "phases": phases,
        "real_tokens_per_s": round(real_tokens / seconds, 1),
        "padded_tokens_per_s": round(padded_tokens / seconds, 1),
        "mfu": round(flops / seconds / peak, 4) if peak and params else None,
        "peak_gb_measured": _peak_gb(),
        "memory_plan": plan.splitlines()[-3:],
    }


def _timed_phases() -> dict:
    """Time TRL's rollout (generate + score) and whole training steps, with the peak GPU memory of each: the
    trainer's own methods wrapped for this process only (instrumentation; nothing of TRL changes)."""
    import functools

    import torch
    import trl

    phases = {name: {"seconds": 0.0, "calls": 0, "peak_gb": None} for name in ("rollout", "step")}

    def wrap(name, method):
        original = getattr(trl.GRPOTrainer, method)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
            _sync()
            t = time.time()
            out = original(*args, **kwargs)
            _sync()
            rec = phases[name]
            rec["seconds"], rec["calls"] = round(rec["seconds"] + time.time() - t, 2), rec["calls"] + 1
            rec["peak_gb"] = max(filter(None, [rec["peak_gb"], _peak_gb()]), default=None)
            return out

        setattr(trl.GRPOTrainer, method, timed)

    wrap("rollout", "_generate_and_score_completions")
    wrap("step", "training_step")
    return phases


def reward(ctx) -> dict:
    from seethink.rewards import REWARDS

    rng = random.Random(0)
    comps = [f"<think>{'step ' * rng.randint(1, 200)}</think>\\boxed{{{rng.choice('ABCD')}}}" for _ in range(4096)]
    answers, options = ["B"] * 4096, [["red", "blue", "green", "white"]] * 4096
    t = time.time()
    REWARDS["accuracy"](comps, answers, options)
    REWARDS["format"](comps)
    seconds = time.time() - t
    return {"completions": 4096, "seconds": round(seconds, 3), "per_s": round(4096 / seconds)}


RUN = {
    "environment": environment,
    "load": load,
    "forward": forward,
    "generate": generate_speed,
    "passk": passk_speed,
    "grpo": grpo,
    "reward": reward,
}


def run_section(name: str, ctx: dict, timeout: float) -> dict:
    """One section in its own process: a hang or a crash costs that section only."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result = Path(f.name)
    cmd = [sys.executable, __file__, "--section", name, "--context", json.dumps(ctx), "--result", str(result)]
    t = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        out = (
            json.loads(result.read_text())
            if result.stat().st_size
            else {"error": p.stderr.strip()[-600:] or f"exit {p.returncode}"}
        )
    except subprocess.TimeoutExpired:
        out = {"error": f"timed out after {timeout:g} s"}
    finally:
        result.unlink(missing_ok=True)
    out["section_seconds"] = round(time.time() - t, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="full")
    ap.add_argument("--out", default="gpu_check.json")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every section's timeout")
    ap.add_argument("--section", help=argparse.SUPPRESS)
    ap.add_argument("--context", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.section:  # a child: one section
        try:
            out = RUN[a.section](json.loads(a.context))
        except Exception as e:  # noqa: BLE001 - reported as the section's figure, the check goes on
            out = {
                "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                "trace": traceback.format_exc()[-1500:],
            }
        Path(a.result).write_text(json.dumps(out, default=str))
        return
    from seethink.fileio import write_json

    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    figures: dict = {"size": a.size}
    t = time.time()
    try:
        build_model(work / "model", a.size)
        build_records(work / "data", a.size, SIZES[a.size]["records"])
        figures["build_seconds"] = round(time.time() - t, 1)
    except Exception as e:  # noqa: BLE001
        figures["build_error"] = f"{type(e).__name__}: {e}"
    import torch

    gpu_gb = torch.cuda.get_device_properties(0).total_memory / 1e9 if torch.cuda.is_available() else 80.0
    ctx = {
        "model": str(work / "model"),
        "data": str(work / "data"),
        "work": str(work / "runs"),
        "size": a.size,
        "gpu_gb": gpu_gb,
    }
    for name in a.sections.split(","):
        if name != "environment" and name != "reward" and "build_error" in figures:
            figures[name] = {"error": "skipped: the model was not built"}
            continue
        if name == "grpo" and "load" in figures:
            ctx["params"] = figures["load"].get("parameters", 0)
        figures[name] = run_section(name, ctx, TIMEOUTS[name] * a.timeout_scale)
        print(f"{name}: {json.dumps(figures[name], default=str)}", flush=True)
    figures["total_seconds"] = round(time.time() - t, 1)
    write_json(Path(a.out), figures)
    print(f"figures written to {a.out}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
