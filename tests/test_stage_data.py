"""A stage's rows: exact weights, batches of one source, orderings, determinism."""

import json
from collections import Counter
from pathlib import Path

import pytest

from seethink.errors import SeethinkError
from seethink.recipe import DataSource, Stage
from seethink.train.data import allocate, stage_records


def write(folder, name, n, cap, pass_rate=None, images=False):
    d = folder / name
    d.mkdir()
    with open(d / "train.jsonl", "w") as f:
        for i in range(n):
            f.write(
                json.dumps(
                    {
                        "id": f"{name}-{i}",
                        "problem": "q",
                        "answer": "1",
                        "capability": cap,
                        "pass_rate": None if pass_rate is None else pass_rate(i),
                    }
                )
                + "\n"
            )


@pytest.fixture
def root(tmp_path):
    write(tmp_path, "p", 30, "perception", pass_rate=lambda i: (i % 10) / 10)
    write(tmp_path, "t", 7, "text_reasoning", pass_rate=lambda i: i / 7)
    return tmp_path


def stage(ordering="shuffle", weights=(3, 1)):
    return Stage(name="s", data=[DataSource("p", weights[0]), DataSource("t", weights[1])], ordering=ordering)


def test_allocate_sums_exactly():
    assert allocate([3, 1], 10) == [8, 2]
    assert sum(allocate([1, 1, 1], 10)) == 10


def test_weights_are_exact_and_every_batch_has_one_source(root):
    rows = stage_records(stage(), root, 40, 4, seed=0)
    assert len(rows) == 40
    assert Counter(r["id"].split("-")[0] for r in rows) == {"p": 32, "t": 8}
    for i in range(0, 40, 4):
        assert len({r["id"].split("-")[0] for r in rows[i : i + 4]}) == 1


def test_small_sources_are_cycled_and_the_order_is_seeded(root):
    a = stage_records(stage(weights=(1, 3)), root, 40, 4, seed=0)
    b = stage_records(stage(weights=(1, 3)), root, 40, 4, seed=0)
    c = stage_records(stage(weights=(1, 3)), root, 40, 4, seed=1)
    assert [r["id"] for r in a] == [r["id"] for r in b] != [r["id"] for r in c]
    t = Counter(r["id"] for r in a if r["id"].startswith("t"))
    assert sum(t.values()) == 28
    assert max(t.values()) - min(t.values()) <= 1  # 7 records cycled 4 times


def test_difficulty_runs_easy_to_hard_once(root):
    rows = stage_records(stage("difficulty", weights=(1, 0.0001)), root, 28, 4, seed=0)
    rates = [r["pass_rate"] for r in rows]
    block_means = [sum(rates[i : i + 4]) / 4 for i in range(0, 28, 4)]
    assert block_means == sorted(block_means, reverse=True)


def test_difficulty_needs_pass_rates(tmp_path):
    write(tmp_path, "p", 8, "perception")
    with pytest.raises(SeethinkError, match="needs pass_rate on every record; 8 have none"):
        stage_records(Stage(name="s", data=[DataSource("p")], ordering="difficulty"), tmp_path, 8, 4, seed=0)


def test_as_is_keeps_file_order(root):
    rows = stage_records(Stage(name="s", data=[DataSource("p")], ordering="as_is"), root, 12, 4, seed=0)
    assert [r["id"] for r in rows] == [f"p-{i}" for i in range(12)]


def test_nonfinite_guard_stops_training():
    from types import SimpleNamespace

    from seethink.train.metrics import NonFiniteGuard

    guard, control = NonFiniteGuard(), SimpleNamespace(should_training_stop=False)
    guard.on_log(None, SimpleNamespace(global_step=3), control, logs={"loss": 0.5})
    assert not control.should_training_stop
    assert guard.bad_step is None
    guard.on_log(None, SimpleNamespace(global_step=4), control, logs={"loss": float("nan")})
    assert control.should_training_stop
    assert guard.bad_step == 4


def test_metrics_writer_drops_rows_past_the_resumed_step(tmp_path):
    from types import SimpleNamespace

    from seethink.algorithms import GRPO
    from seethink.train.metrics import MetricsWriter

    path = tmp_path / "metrics.jsonl"
    w = MetricsWriter(path, GRPO.log_keys, flush_every=0)
    for step in (1, 2, 3):
        w.on_log(None, SimpleNamespace(global_step=step), None, logs={"reward": 0.1 * step, "kl": 0.0})
    resumed = MetricsWriter(path, GRPO.log_keys)  # a rerun after a kill: the last checkpoint was step 2
    resumed.on_train_begin(None, SimpleNamespace(global_step=2), None)
    resumed.on_log(None, SimpleNamespace(global_step=3), None, logs={"reward": 0.9})
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert rows[-1]["reward"] == 0.9


def test_metrics_are_on_disk_up_to_each_checkpoint_but_not_rewritten_every_step(tmp_path):
    from types import SimpleNamespace

    from seethink.algorithms import GRPO
    from seethink.train.metrics import MetricsWriter

    path = tmp_path / "metrics.jsonl"

    def steps():
        return [json.loads(line)["step"] for line in path.read_text().splitlines()]

    w = MetricsWriter(path, GRPO.log_keys, flush_every=3600)
    log = {"reward": 0.5, "kl": 0.0}
    no_save, save = SimpleNamespace(should_save=False), SimpleNamespace(should_save=True)
    w.on_log(None, SimpleNamespace(global_step=1), no_save, logs=log)
    assert steps() == [1]  # the first row at once
    for step in (2, 3):
        w.on_log(None, SimpleNamespace(global_step=step), no_save, logs=log)
    assert steps() == [1]  # buffered
    w.on_log(None, SimpleNamespace(global_step=4), save, logs=log)  # step 4 is about to be checkpointed
    assert steps() == [1, 2, 3, 4]
    w.on_log(None, SimpleNamespace(global_step=5), no_save, logs=log)
    assert steps() == [1, 2, 3, 4]
    w.on_train_end(None, None, None)
    assert steps() == [1, 2, 3, 4, 5]
    resumed = MetricsWriter(path, GRPO.log_keys, flush_every=3600)  # resumed from step 4: step 5 is run again
    resumed.on_train_begin(None, SimpleNamespace(global_step=4), None)
    resumed.on_train_end(None, None, None)  # a truncation alone is written too
    assert steps() == [1, 2, 3, 4]


def test_difficulty_per_epoch_restarts_easy_to_hard_each_pass(tmp_path):
    write(tmp_path, "p", 8, "perception", pass_rate=lambda i: i / 8)
    st = Stage(name="s", data=[DataSource("p")], ordering="difficulty", difficulty_schedule="per_epoch")
    rows = stage_records(st, tmp_path, 16, 4, seed=0)
    rates = [r["pass_rate"] for r in rows]
    assert rates[:8] == sorted(rates[:8], reverse=True) == rates[8:]  # two identical easy→hard passes
    once = stage_records(Stage(name="s", data=[DataSource("p")], ordering="difficulty"), tmp_path, 16, 4, seed=0)
    assert [r["pass_rate"] for r in once] == sorted(rates, reverse=True)  # one pass, each item twice in place


def test_ties_are_broken_by_the_seed_not_the_file(tmp_path):
    write(tmp_path, "p", 40, "perception", pass_rate=lambda i: 0.5)
    st = Stage(name="s", data=[DataSource("p")], ordering="difficulty")
    a, b = (stage_records(st, tmp_path, 40, 4, seed=s) for s in (0, 1))
    assert [r["id"] for r in a] != [f"p-{i}" for i in range(40)]
    assert [r["id"] for r in a] != [r["id"] for r in b]


def test_drop_solved_and_unsolved(tmp_path):
    write(tmp_path, "p", 10, "perception", pass_rate=lambda i: [0, 1, 0.5, 0.25, 1][i % 5])
    st = Stage(name="s", data=[DataSource("p")], drop_solved=True, drop_unsolved=True)
    rows = stage_records(st, tmp_path, 8, 4, seed=0)
    assert {r["pass_rate"] for r in rows} == {0.5, 0.25}
    write(tmp_path, "q", 4, "perception", pass_rate=lambda i: 1.0)
    with pytest.raises(SeethinkError, match="every record was dropped"):
        stage_records(Stage(name="s", data=[DataSource("q")], drop_solved=True), tmp_path, 4, 4, seed=0)
    write(tmp_path, "r", 4, "perception")
    with pytest.raises(SeethinkError, match="drop_solved/drop_unsolved needs pass_rate"):
        stage_records(Stage(name="s", data=[DataSource("r")], drop_solved=True), tmp_path, 4, 4, seed=0)


@pytest.mark.parametrize("algorithm", ["grpo", "sft"])
def test_the_trainer_draws_the_stages_rows_in_the_stages_order(algorithm, world_dir, tmp_path):
    """What `stage_records` lays out is what the Trainer's dataloader hands the model, row for row: neither TRL's
    dataset shuffle nor the Trainer's random sampler (an SFT stage used one until it was set sequential)."""
    from seethink.miniature.base import BASE_DIR
    from seethink.models.load import load_model
    from seethink.recipe import Recipe
    from seethink.train.plan import plan_stage
    from seethink.train.stage import build_trainer

    st = Stage(
        name="s",
        data=[DataSource("perception"), DataSource("text_reasoning")],
        algorithm=algorithm,
        steps=4,
        batch_size=8 if algorithm == "grpo" else 2,
        num_generations=4,
    )
    model, proc = load_model(BASE_DIR)
    trainer, _ = build_trainer(plan_stage(st, Recipe(name="r", stages=[st], seed=5), world_dir, tmp_path), model, proc)
    loader = trainer.get_train_dataloader()
    if algorithm == "grpo":  # TRL's sampler hands each prompt num_generations times in a row
        ids = [row["id"] for batch in loader for row in batch][:: st.num_generations]
        assert ids == [row["id"] for row in trainer.train_dataset]
    else:
        import torch

        for k, batch in enumerate(loader):  # a vision-language SFT dataset is tokenized by the collator
            rows = [trainer.train_dataset[k * st.batch_size + i] for i in range(st.batch_size)]
            assert torch.equal(batch["input_ids"], trainer.data_collator(rows)["input_ids"]), k


# ---------------------------------------------------------------- input bounds (inputs.*)


def _real_lengths(processor, records):
    from seethink.models.generate import encode_prompts

    return [int(encode_prompts(processor, [r])["attention_mask"].sum()) for r in records]


def test_prompt_tokens_are_what_the_processor_feeds_the_model(world_dir):
    from seethink.models.load import load_processor
    from seethink.records.io import load_records
    from seethink.resolve import model_path
    from seethink.train.data import prompt_tokens

    processor = load_processor(model_path("base"))
    recs = (
        load_records(world_dir / "visual_reasoning", "validation")[:6]
        + load_records(world_dir / "text_reasoning", "validation")[:3]
    )
    assert prompt_tokens(processor, recs) == _real_lengths(processor, recs)


def test_pixel_bounds_set_a_qwen_processor_and_shrink_its_image_tokens(tmp_path):
    from PIL import Image
    from tiny_vlms import BUILDERS

    from seethink.models.processors import bound_pixels
    from seethink.train.data import prompt_tokens

    _, processor = BUILDERS["qwen2.5-vl"]()
    big = tmp_path / "big.png"
    Image.new("RGB", (256, 256), (10, 200, 30)).save(big)
    rec = {"id": "a", "problem": "How many?", "answer": "1", "capability": "perception", "images": [str(big)]}
    before = prompt_tokens(processor, [rec])[0]
    assert before == _real_lengths(processor, [rec])[0]
    assert bound_pixels(processor, 16 * 16, 32 * 32)  # the tiny processor already caps at 64² px
    after = prompt_tokens(processor, [rec])[0]
    assert after == _real_lengths(processor, [rec])[0]
    assert after < before  # 16 merged tokens per image → 4
    from seethink.models.load import load_processor
    from seethink.resolve import model_path

    assert not bound_pixels(load_processor(model_path("base")), 0, 64 * 64)  # LLaVA resizes to one size anyway


def test_long_prompts_are_dropped_with_the_count_printed(world_dir, tmp_path):
    from conftest import seethink

    from seethink.recipe import RECIPES_DIR

    args = [
        "train",
        RECIPES_DIR / "stage3-only.yaml",
        "--set",
        f"data={world_dir}",
        "--set",
        f"output_dir={tmp_path}",
        "--set",
        "stages.0.steps=1",
        "--set",
        "stages.0.batch_size=8",
        "--set",
        "stages.0.num_generations=4",
        "--set",
        "stages.0.rollout_batch_size=8",
        "--set",
        "eval.limit=2",
        "--set",
        "eval.attribution=none",
    ]
    from seethink.models.load import load_processor
    from seethink.records.io import load_records
    from seethink.resolve import model_path
    from seethink.train.data import prompt_tokens

    lengths = sorted(
        prompt_tokens(load_processor(model_path("base")), load_records(world_dir / "visual_reasoning", "train"))
    )
    limit = lengths[len(lengths) // 2]
    over = sum(n > limit for n in lengths)
    assert 0 < over < len(lengths)
    p = seethink(*args, "--set", f"inputs.max_prompt_length={limit}")
    assert (
        f"dropped {over} of {len(lengths)} rows whose prompt is over inputs.max_prompt_length={limit} tokens"
        in p.stdout
    )
    p = seethink(*args, "--set", "inputs.max_prompt_length=5", "--set", "name=none-fit", check=False)
    assert p.returncode == 2 and "every row's prompt is over inputs.max_prompt_length=5 tokens" in p.stderr
    assert not (tmp_path / "none-fit").exists()


def test_a_run_plans_each_stage_once_and_trains_from_the_plan(world_dir, tmp_path, monkeypatch):
    """Preflight builds every stage's rows and TRL fields once (issue 34 item 5); the stages train from those
    plans, so the rows are never rebuilt, and `run_stage` is handed a plan, not the recipe."""
    from conftest import small_rounds

    from seethink.recipe import RECIPES_DIR, load_recipe
    from seethink.resolve import recipe_paths
    from seethink.train import plan, run, stage

    path = RECIPES_DIR / "staged.yaml"
    sets = [f"data={world_dir}", f"output_dir={tmp_path}", "eval.limit=2", "eval.max_new_tokens=8"]
    sets += [a for a in small_rounds(path) if a != "--set"]
    sets += [f"stages.{k}.steps=1" for k in range(3)]
    recipe = load_recipe(path, sets)
    built, handed = [], []
    real_records, real_run = plan.stage_records, stage.run_stage
    monkeypatch.setattr(plan, "stage_records", lambda st, *a, **k: built.append(st.name) or real_records(st, *a, **k))

    def run_stage(setup, start, stage_dir):
        handed.append((setup.stage.name, len(setup.records), setup.trl_args["output_dir"]))
        return real_run(setup, start, stage_dir)

    monkeypatch.setattr(run, "run_stage", run_stage)
    out = run.run_recipe(recipe, *recipe_paths(recipe))
    names = [s.name for s in recipe.stages]
    assert built == names
    assert [h[0] for h in handed] == names
    assert all(n == plan.stage_rows(s) for (_, n, _), s in zip(handed, recipe.stages))
    assert [Path(h[2]).parent.name for h in handed] == [f"{k}-{n}" for k, n in enumerate(names, 1)]
    assert (out / "stages" / "3-visual_reasoning" / "checkpoint" / "seethink_stage.json").exists()
