"""The stage algorithms: one object each (seethink.algorithms), and no branch on an algorithm's name elsewhere."""

import re
import typing
from pathlib import Path

import pytest
import trl

from seethink.algorithms import ALGORITHMS, GRPO, SFT, algorithm
from seethink.recipe import Stage
from seethink.recipe.stage import Algorithm, DataSource

SRC = Path(__file__).resolve().parents[1] / "src" / "seethink"


def test_the_recipe_offers_exactly_the_registered_algorithms():
    assert typing.get_args(Algorithm) == tuple(ALGORITHMS) == ("grpo", "sft")


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_each_algorithm_names_classes_of_the_installed_trl(name):
    a = ALGORITHMS[name]
    assert a.config_class() is getattr(trl, a.config_class_name)
    assert a.trainer_class() is getattr(trl, a.trainer_class_name)
    assert a.log_keys["loss"] == "loss"


def test_budget_arithmetic_per_algorithm():
    data = [DataSource("perception")]
    g = Stage("g", data, steps=12, batch_size=8, num_generations=4, rollout_batch_size=24, num_iterations=2)
    s = Stage("s", data, algorithm="sft", steps=12, batch_size=8)
    assert algorithm(g) is ALGORITHMS["grpo"] and isinstance(algorithm(g), GRPO)
    assert isinstance(algorithm(s), SFT)
    # a GRPO round: 24 completions = 6 prompts, in 3 minibatches of 8, each used twice -> 6 updates
    assert algorithm(g).updates_per_round(g) == 6
    assert algorithm(g).rows_per_round(g, 2) == 12  # prompts over 2 processes
    assert algorithm(g).stage_rows(g, 1) == 12 // 6 * 6
    assert algorithm(g).rollouts(g) == 12 // 2 * 8
    assert algorithm(s).updates_per_round(s) == 1
    assert algorithm(s).stage_rows(s, 2) == 12 * 8 * 2
    assert algorithm(s).rollouts(s) == 12 * 8  # examples trained on


def test_only_an_algorithm_that_samples_gets_the_rollout_engine_settings():
    data = [DataSource("perception")]
    engine = {"use_vllm": True}
    assert algorithm("grpo").trl_args(Stage("g", data), engine)["use_vllm"] is True
    assert "use_vllm" not in algorithm("sft").trl_args(Stage("s", data, algorithm="sft"), engine)


def test_no_module_branches_on_an_algorithms_name():
    pattern = re.compile(r"""algorithm\s*[!=]=\s*["']""")
    hits = [
        f"{p.relative_to(SRC)}:{i}"
        for p in sorted(SRC.rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, f"ask the stage's algorithm object (seethink.algorithms) instead: {hits}"
