import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory):
    """A small world built once through the real code path (not the CLI: the CLI has its own test)."""
    from seethink.world.build import build_world

    out = tmp_path_factory.mktemp("world")
    build_world(out, seed=3, sizes={"train": 140, "validation": 28, "test": 56})
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised tiny default model saved as an HF folder."""
    from seethink.models.tiny import build_model, build_processor

    out = tmp_path_factory.mktemp("tiny")
    proc = build_processor()
    build_model(proc).save_pretrained(out)
    proc.save_pretrained(out)
    return out
