import inspect
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_benchmark(name: str):
    """A script of benchmarks/ imported as a module (they are scripts, not a package), for tests of its functions."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def seethink(*args, check=True, timeout=900, **kw) -> subprocess.CompletedProcess:
    """The real command line in a fresh process (`from conftest import seethink`); with `check`, a non-zero exit
    fails the test and shows the end of both outputs."""
    p = subprocess.run(
        [sys.executable, "-m", "seethink", *map(str, args)], capture_output=True, text=True, timeout=timeout, **kw
    )
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}")
    return p


def small_rounds(recipe) -> list[str]:
    """`--set` arguments that make every GRPO stage of a recipe file take rollout rounds of 4 prompts feeding one
    update each, so smoke runs of the shipped recipes (32-prompt rounds, 2 updates each) take any number of steps
    and seconds, not minutes."""
    from seethink.recipe import load_recipe

    out = []
    for k, s in enumerate(load_recipe(recipe).stages):
        if s.algorithm == "grpo":
            out += ["--set", f"stages.{k}.batch_size=32", "--set", f"stages.{k}.rollout_batch_size=32"]
    return out


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory):
    """A small world built once through the real code path (not the CLI: the CLI has its own test)."""
    from seethink.miniature.world.build import build_world

    out = tmp_path_factory.mktemp("world")
    build_world(out, seed=3, sizes={"train": 140, "validation": 28, "test": 56})
    return out


@pytest.fixture(scope="session")
def pairs_world_dir(tmp_path_factory):
    """A small world of the optional two-image dataset `image_pairs` only."""
    from seethink.miniature.world.build import build_world

    out = tmp_path_factory.mktemp("pairs")
    build_world(out, seed=4, sizes={"train": 60, "validation": 12, "test": 12}, datasets=("image_pairs",))
    return out


@pytest.fixture(scope="session")
def tiny_text_lm_dir(tmp_path_factory):
    """A tiny random text-only causal LM (Llama) with the world's tokenizer, seeded: it writes the same nonsense
    every run (unseeded, it now and then writes something that parses differently)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from seethink.miniature.tiny import build_processor

    out = tmp_path_factory.mktemp("lm")
    tok = build_processor().tokenizer
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised tiny default model saved as an HF folder."""
    from seethink.miniature.tiny import build_model, build_processor

    out = tmp_path_factory.mktemp("tiny")
    proc = build_processor()
    build_model(proc).save_pretrained(out)
    proc.save_pretrained(out)
    return out


class Loopback:
    """A threaded HTTP server on 127.0.0.1 (a free port) running `handler`; `url` is its /v1 base."""

    def serve(self, handler) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Stub(Loopback):
    """An OpenAI-compatible /v1/chat/completions server with scripted replies and a log of requests."""

    def __init__(self, reply, fail_first: int = 0, status: int = 503, raw: bytes | None = None):
        self.reply, self.fail_first, self.status, self.raw = reply, fail_first, status, raw
        self.requests, self.headers = [], []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                stub.headers.append(dict(self.headers))
                if len(stub.requests) <= stub.fail_first:
                    self.send_response(stub.status)
                    self.end_headers()
                    return
                content = body["messages"][0]["content"]
                text = next(c["text"] for c in content if c["type"] == "text")
                has_image = any(c["type"] == "image_url" for c in content)
                args = (text, has_image) if len(inspect.signature(stub.reply).parameters) == 2 else (text,)
                payload = (
                    stub.raw
                    if stub.raw is not None
                    else json.dumps(
                        {"choices": [{"message": {"role": "assistant", "content": stub.reply(*args)}}]}
                    ).encode()
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

        self.serve(Handler)


@pytest.fixture
def stub():
    """Start stub endpoints on loopback: stub(reply, fail_first=.., status=.., raw=..); reply(text) or
    reply(text, has_image) returns the reply text."""
    servers = []

    def make(reply=lambda text: "PERCEPTION", **kw):
        servers.append(Stub(reply, **kw))
        return servers[-1]

    yield make
    for s in servers:
        s.close()
