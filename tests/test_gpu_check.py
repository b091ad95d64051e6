"""benchmarks/gpu_check.py at its tiny size on CPU, so the one-shot GPU check cannot rot between GPU loans: every
section runs in its own process and reports figures, not an error."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_every_section_of_the_gpu_check_runs_at_tiny_size(tmp_path):
    out = tmp_path / "figures.json"
    p = subprocess.run(
        [sys.executable, SCRIPT, "--size", "tiny", "--out", out, "--timeout-scale", "3"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    figures = json.loads(out.read_text())
    sections = ("environment", "load", "forward", "generate", "passk", "grpo", "reward")
    assert {name: figures[name].get("error") for name in sections} == dict.fromkeys(sections)
    assert figures["load"]["dtype"] == "torch.float32"  # CPU: fp32 (bf16 on a CUDA GPU)
    assert figures["generate"]["batch64"]["records_per_s"] > 0
    # two rounds of 8 completions, each one update in micro-batches of 2: TRL's training_step runs per micro-batch
    assert figures["grpo"]["phases"]["update"]["calls"] == 2 * 4
    assert figures["grpo"]["phases"]["rollout"]["seconds"] > 0
    assert figures["reward"]["completions"] == 4096
    assert all(f"{name}: " in p.stdout for name in sections)


def test_a_failing_section_is_reported_and_the_check_goes_on(tmp_path):
    out = tmp_path / "figures.json"
    p = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--size",
            "tiny",
            "--out",
            out,
            "--sections",
            "load,reward",
            "--timeout-scale",
            "0.001",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["load"]["error"].startswith("timed out after")
    assert figures["reward"]["error"].startswith("timed out after")
