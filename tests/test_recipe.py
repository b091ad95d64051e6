"""Recipe parsing: every shipped recipe validates; bad recipes give one line naming the field."""

from pathlib import Path

import pytest

from seethink.errors import SeethinkError
from seethink.recipe import load_recipe, merged_stage, null_control, rollouts, updates_per_round

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
ALL = sorted(RECIPES.rglob("*.yaml"))


def test_recipes_exist():
    names = {p.name for p in ALL}
    assert {
        "staged.yaml",
        "merged.yaml",
        "sft-perception.yaml",
        "order-321.yaml",
        "stage3-only.yaml",
        "difficulty.yaml",
        "capability-x-difficulty.yaml",
    } <= names


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_shipped_recipe_validates(path):
    r = load_recipe(path)
    assert r.stages
    assert r.name


def test_staged_recipe_is_the_paper_curriculum():
    r = load_recipe(RECIPES / "staged.yaml")
    assert [s.name for s in r.stages] == ["perception", "text_reasoning", "visual_reasoning"]
    assert [s.freeze_vision for s in r.stages] == [False, True, False]
    assert all(s.algorithm == "grpo" for s in r.stages)


def test_merged_has_the_same_rollouts_as_staged():
    staged = load_recipe(RECIPES / "staged.yaml")
    merged = load_recipe(RECIPES / "merged.yaml")
    (m,) = merged.stages
    assert rollouts(m) == sum(rollouts(s) for s in staged.stages)
    assert {d.path for d in m.data} == {d.path for s in staged.stages for d in s.data}
    shares = {d.path: d.weight for d in m.data}
    for s in staged.stages:  # each dataset's share of the merged run equals its stage's share of rollouts
        assert shares[s.data[0].path] == rollouts(s)
    assert m.max_completion_length == max(s.max_completion_length for s in staged.stages)
    assert not m.freeze_vision


def test_merged_follows_overrides_of_the_staged_file(tmp_path):
    staged = (RECIPES / "staged.yaml").read_text().replace("steps: 60", "steps: 40")
    (tmp_path / "staged.yaml").write_text(staged)
    (tmp_path / "merged.yaml").write_text("name: merged\nmerged_from: staged.yaml\n")
    m = load_recipe(tmp_path / "merged.yaml").stages[0]
    staged = load_recipe(tmp_path / "staged.yaml")
    assert staged.stages[0].steps == 40
    assert rollouts(m) == sum(rollouts(s) for s in staged.stages)


def test_set_overrides():
    r = load_recipe(RECIPES / "staged.yaml", ["stages.0.steps=2", "stages.2.lr=1e-6", "name=smoke", "eval.limit=5"])
    assert r.stages[0].steps == 2
    assert r.stages[2].lr == 1e-6
    assert r.name == "smoke"
    assert r.eval.limit == 5
    m = load_recipe(RECIPES / "merged.yaml", ["stages.0.steps=4"])
    assert m.stages[0].steps == 4


def write(tmp_path, text):
    p = tmp_path / "r.yaml"
    p.write_text(text)
    return p


BASE = "name: x\nstages:\n  - name: a\n    data: [{path: perception}]\n"


@pytest.mark.parametrize(
    "extra,msg",
    [
        ("    stepz: 3\n", r"stages\.0\.stepz: unknown key \(did you mean 'steps'\?\)"),
        ("    null: 3\n", r"stages\.0: a key read as None, not a name"),
        ("    steps: many\n", r"stages\.0\.steps: expected a whole number, got 'many'"),
        ("    steps: 0\n", r"stages\.0\.steps: must be > 0"),
        ("    steps: -5\n", r"stages\.0\.steps: must be > 0"),
        ("    lr: fast\n", r"stages\.0\.lr: expected a number, got .fast."),
        ("    lr: .inf\n", r"stages\.0\.lr: expected a finite number"),
        ("    lr: nan\n", r"stages\.0\.lr: expected a finite number"),
        ("    batch_size: 30\n", r"stages\.0\.batch_size: 30 is not divisible by num_generations=8"),
        ("    algorithm: ppo\n", r"stages\.0\.algorithm: must be one of grpo, sft"),
        ("    freeze_vision: yes please\n", r"stages\.0\.freeze_vision: expected true or false"),
        ("    num_generations: 1\n    batch_size: 4\n", r"stages\.0\.num_generations: GRPO needs at least 2"),
        ("  - name: a\n    data: [{path: text_reasoning}]\n", r"stages: stage names must be unique"),
        ("    rollout_batch_size: 48\n", r"stages\.0\.rollout_batch_size: 48 is not a multiple of batch_size=32"),
        ("    rollout_batch_size: -32\n", r"stages\.0\.rollout_batch_size: must be >= 0"),
        ("    num_iterations: 0\n", r"stages\.0\.num_iterations: must be > 0"),
        (
            "    rollout_batch_size: 64\n    steps: 3\n",
            r"stages\.0\.steps: 3 is not a whole number of rollout rounds of 2",
        ),
        ("    num_iterations: 2\n    rollout_batch_size: 64\n    steps: 6\n", r"rollout rounds of 4 updates"),
        ("    algorithm: sft\n    num_iterations: 2\n", r"stages\.0\.num_iterations: a GRPO setting; stage 'a' is sft"),
        ("    name: ../../elsewhere\n", r"stages\.0\.name: must be a plain folder name"),
        ("    filter_groups: -1\n", r"stages\.0\.filter_groups: must be >= 0 \(0 = off\)"),
        ("    filter_groups: lots\n", r"stages\.0\.filter_groups: expected a whole number"),
        ("    algorithm: sft\n    filter_groups: 2\n", r"stages\.0\.filter_groups: a GRPO setting; stage 'a' is sft"),
        # the TRL pass-through: only fields of the installed TRL's config class that seethink does not set itself
        (
            "    trl: {top_pp: 0.9}\n",
            r"stages\.0\.trl\.top_pp: unknown key \(did you mean 'top_p'\?\) -- not a field of GRPOConfig",
        ),
        (
            "    trl: {learning_rate: 0.1}\n",
            r"stages\.0\.trl\.learning_rate: set by seethink from lr; change that instead",
        ),
        ("    algorithm: sft\n    trl: {num_generations: 4}\n", r"stages\.0\.trl\.num_generations: set by seethink"),
        (
            "    algorithm: sft\n    trl: {top_p: 0.9}\n",
            r"stages\.0\.trl\.top_p: unknown key.*not a field of SFTConfig",
        ),
        ("    trl: [top_p]\n", r"stages\.0\.trl: expected a mapping"),
    ],
)
def test_bad_recipes_name_the_field(tmp_path, extra, msg):
    with pytest.raises(SeethinkError, match=msg) as e:
        load_recipe(write(tmp_path, BASE + extra))
    assert "\n" not in str(e.value)
    assert "r.yaml" in str(e.value)


@pytest.mark.parametrize(
    "text,msg",
    [
        ("name: x\n", r"stages: a recipe needs at least one stage"),
        ("stages: []\n", r"name: required key missing"),
        ("name: x\nstages:\n  - data: [{path: p}]\n", r"stages\.0\.name: required key missing"),
        ("name: [unclosed\n", r"not valid YAML \(line"),
        ("- a list\n", r"a recipe must be a YAML mapping"),
        ("name: x\nmerged_from: nope.yaml\n", r"nope.yaml does not exist"),
        (BASE + "precision: fp16\n", r"precision: must be one of auto, bf16, fp32, got 'fp16'"),
    ],
)
def test_malformed_recipes(tmp_path, text, msg):
    with pytest.raises(SeethinkError, match=msg):
        load_recipe(write(tmp_path, text))


@pytest.mark.parametrize("item,msg", [("noequals", "expected key.path=value"), ("stages.9.steps=1", "not an item")])
def test_bad_overrides(item, msg):
    with pytest.raises(SeethinkError, match=msg):
        load_recipe(RECIPES / "staged.yaml", [item])


def test_merging_refuses_sft_stages():
    with pytest.raises(SeethinkError, match="merging needs GRPO stages"):
        merged_stage(load_recipe(RECIPES / "sft-perception.yaml"))


def test_precision_auto_is_fp32_without_a_gpu():
    import torch

    from seethink.train.trl_config import use_bf16

    assert use_bf16("auto") == (torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    assert use_bf16("bf16")
    assert not use_bf16("fp32")


def test_curriculum_recipes_derive_from_staged():
    staged = load_recipe(RECIPES / "staged.yaml")
    cxd = load_recipe(RECIPES / "capability-x-difficulty.yaml")
    assert [(s.name, s.steps, s.lr, s.freeze_vision) for s in cxd.stages] == [
        (s.name, s.steps, s.lr, s.freeze_vision) for s in staged.stages
    ]
    assert all(s.ordering == "difficulty" and s.difficulty_schedule == "once" for s in cxd.stages)
    (d,) = load_recipe(RECIPES / "difficulty.yaml").stages
    (m,) = load_recipe(RECIPES / "merged.yaml").stages
    assert d.ordering == "difficulty"
    assert (d.steps, d.batch_size, d.data) == (m.steps, m.batch_size, m.data)


@pytest.mark.parametrize(
    "text,msg",
    [
        (
            "name: x\nbased_on: staged.yaml\nstage_overrides: {orderin: difficulty}\n",
            r"stage_overrides\.orderin: unknown key \(did you mean 'ordering'\?\)",
        ),
        (
            "name: x\nbased_on: staged.yaml\nstage_overrides: {data: []}\n",
            r"stage_overrides\.data: fixed by the recipe",
        ),
        (
            "name: x\nmerged_from: staged.yaml\nstage_overrides: {steps: 3}\n",
            r"stage_overrides\.steps: fixed by the recipe",
        ),
        (
            "name: x\nbased_on: staged.yaml\nstage_overrides: {ordering: sideways}\n",
            r"stages\.0\.ordering: must be one of",
        ),
        ("name: x\nstage_overrides: {ordering: difficulty}\n" + BASE[8:], r"stage_overrides: only a derived recipe"),
    ],
)
def test_bad_stage_overrides(tmp_path, text, msg):
    import shutil

    shutil.copy(RECIPES / "staged.yaml", tmp_path / "staged.yaml")
    with pytest.raises(SeethinkError, match=msg):
        load_recipe(write(tmp_path, text))


def test_rollout_rounds_and_updates(tmp_path):
    r = load_recipe(
        write(
            tmp_path, BASE + "    batch_size: 32\n    rollout_batch_size: 128\n    num_iterations: 2\n    steps: 16\n"
        )
    )
    (s,) = r.stages
    assert updates_per_round(s) == 8  # 4 minibatches of 32 completions, each used twice
    assert rollouts(s) == 16 // 2 * 32  # 2 rounds of 128 completions


def test_merged_keeps_the_rollout_budget_under_minibatching(tmp_path):
    staged = (RECIPES / "staged.yaml").read_text()
    (tmp_path / "staged.yaml").write_text(staged)
    (tmp_path / "merged.yaml").write_text("name: merged\nmerged_from: staged.yaml\n")
    st = load_recipe(tmp_path / "staged.yaml")
    (m,) = load_recipe(tmp_path / "merged.yaml").stages
    assert rollouts(m) == sum(rollouts(s) for s in st.stages)
    assert m.steps % updates_per_round(m) == 0
    assert (m.rollout_batch_size, m.num_iterations) == (st.stages[0].rollout_batch_size, st.stages[0].num_iterations)


def test_the_gpu_recipes_use_the_papers_batching():
    for path in sorted((RECIPES / "gpu").glob("*.yaml")):
        for s in load_recipe(path).stages:
            prompts = lambda completions: completions * 8 // s.num_generations  # noqa: E731 - 8 GPUs
            assert (prompts(s.rollout_batch_size), prompts(s.batch_size)) == (512, 128), path.name
            assert updates_per_round(s) == 4


def test_the_null_control_is_the_same_recipe_with_shuffled_rewards():
    r = load_recipe(RECIPES / "staged.yaml")
    n = null_control(r)
    assert n.shuffle_rewards
    assert not r.shuffle_rewards
    assert n.name == "staged-null"
    assert n.stages == r.stages
    assert n.seed == r.seed
    assert n.model == r.model
    assert null_control(n) is n


def test_trl_settings_pass_through_when_trl_has_them(tmp_path):
    from seethink.train.trl_config import trl_config

    r = load_recipe(write(tmp_path, BASE + "    trl: {top_p: 0.9, scale_rewards: batch}\n"))
    assert r.stages[0].trl == {"top_p": 0.9, "scale_rewards": "batch"}
    config = trl_config(r.stages[0], r, tmp_path / "work")
    assert config.top_p == 0.9
    assert config.scale_rewards == "batch"
    assert config.learning_rate == r.stages[0].lr  # the first-class fields still decide theirs


def test_a_trl_value_trl_refuses_is_one_line_naming_the_stage(tmp_path):
    from seethink.train.trl_config import trl_config

    r = load_recipe(write(tmp_path, BASE + "    trl: {auto_find_batch_size: true}\n"))  # GRPO refuses it
    with pytest.raises(SeethinkError, match="stage a: GRPOConfig refuses these settings") as e:
        trl_config(r.stages[0], r, tmp_path / "work")
    assert "\n" not in str(e.value)


def test_config_classes_check_their_own_values():
    import dataclasses

    from seethink.recipe import DataSource, EvalSettings, Stage

    stage = Stage(name="a", data=[DataSource("perception")])
    with pytest.raises(SeethinkError, match="lr: must be > 0"):
        dataclasses.replace(stage, lr=0.0)
    with pytest.raises(SeethinkError, match="weight: must be > 0"):
        DataSource("perception", weight=0)
    with pytest.raises(SeethinkError, match="attribution judge needs a judge"):
        EvalSettings(attribution="judge")


@pytest.mark.parametrize(
    "field,value",
    [
        ("stages.0.ordering", "random"),
        ("precision", "fp16"),
        ("eval.attribution", "llm"),
        ("rollouts.engine", "sglang"),
    ],
)
def test_fields_with_a_fixed_set_of_values_refuse_others(field, value):
    with pytest.raises(SeethinkError, match=rf"{field}: must be one of .*, got '{value}'"):
        load_recipe(RECIPES / "staged.yaml", [f"{field}={value}"])


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "", "tab\there"])
def test_a_run_name_cannot_leave_the_output_folder(name):
    with pytest.raises(SeethinkError, match="name: must be a plain folder name"):
        load_recipe(RECIPES / "staged.yaml", [f"name={name!r}" if name else "name=''"])


def test_odd_but_harmless_names_are_fine():
    r = load_recipe(RECIPES / "staged.yaml", ["name='run $(touch x) \"q\" é'"])
    assert r.name == 'run $(touch x) "q" é'


def test_a_gpu_recipe_per_paper_backbone_with_internvl_stage_2_damped():
    names = {p.stem for p in (RECIPES / "gpu").glob("*.yaml")}
    assert {"qwen2.5-vl-7b-staged", "qwen3-vl-8b-staged", "internvl3-8b-staged"} <= names
    text = load_recipe(RECIPES / "gpu" / "internvl3-8b-staged.yaml").stages[1]
    assert (text.name, text.lr, text.warmup_ratio, text.beta, text.epsilon, text.epsilon_high, text.max_grad_norm) == (
        "text_reasoning",
        3e-7,
        0.05,
        0.05,
        0.15,
        0.15,
        0.5,
    )


def test_loss_types_are_the_installed_trls_own_list():
    """Read from TRL's GRPOConfig help, so a TRL that adds a loss makes it usable and one that drops it refuses it."""
    import trl

    from seethink.trl_fields import trl_loss_types

    losses = trl_loss_types()
    assert {"grpo", "dapo", "dr_grpo", "bnpo", "cispo", "sapo"} <= set(losses), losses
    assert load_recipe(RECIPES / "staged.yaml", ["stages.0.loss_type=cispo"]).stages[0].loss_type == "cispo"
    with pytest.raises(
        SeethinkError,
        match=rf"stages.0.loss_type: must be one of grpo, .*cispo.* \(TRL "
        rf"{trl.__version__}'s GRPOConfig\), got 'ppo'",
    ):
        load_recipe(RECIPES / "staged.yaml", ["stages.0.loss_type=ppo"])


BREVITY = '''
def brevity(completions, answer, **kwargs):
    """1 for a completion under 40 characters: a user reward with TRL's signature."""
    return [float(len(c if isinstance(c, str) else c[-1]["content"]) < 40) for c in completions]

not_a_function = 3
'''


def test_rewards_default_to_the_papers_and_take_user_functions(tmp_path):
    from seethink.reward_specs import reward_function

    assert load_recipe(RECIPES / "staged.yaml").stages[0].rewards == {"accuracy": 0.9, "format": 0.1}
    (tmp_path / "my_rewards.py").write_text(BREVITY)
    (tmp_path / "r.yaml").write_text(
        f"based_on: {RECIPES / 'staged.yaml'}\nname: brief\n"
        "stage_overrides: {rewards: {accuracy: 1.0, 'my_rewards.py:brevity': 0.5}}\n"
    )
    stage = load_recipe(tmp_path / "r.yaml").stages[2]
    spec = f"{tmp_path.resolve() / 'my_rewards.py'}:brevity"  # relative to the recipe's folder, kept absolute
    assert stage.rewards == {"accuracy": 1.0, spec: 0.5}
    assert reward_function(spec, "f")(["short", "x" * 50], ["1", "1"]) == [1.0, 0.0]
    assert load_recipe(RECIPES / "staged.yaml", ["stages.0.rewards={'json:loads': 1.0}"]).stages[0].rewards
    overlong = reward_function("soft_overlong", "f", max_completion_length=100)  # TRL's, soft band the last fifth
    assert overlong(completion_ids=[[1] * 70, [1] * 90, [1] * 100]) == [0.0, -0.5, 0.0 - 1.0]


@pytest.mark.parametrize(
    "rewards,msg",
    [
        ("{acuracy: 0.9}", r"stages.0.rewards: unknown reward 'acuracy' \(did you mean 'accuracy'\?\)"),
        ("{'nope.py:f': 1}", r"stages.0.rewards: reward file .*nope.py not found"),
        ("{'REWARDS:missing': 1}", "has no function 'missing'"),
        ("{'REWARDS:not_a_function': 1}", "is a int, not a function"),
        ("{'BROKEN:f': 1}", "importing .*broken.py failed: ZeroDivisionError"),
        ("{'no_such_module_x:f': 1}", "importing no_such_module_x failed: ModuleNotFoundError"),
        ("{accuracy: 0, format: 0}", "every weight is 0"),
        ("{}", "needs at least one reward"),
        ("{accuracy: .nan}", "expected a finite number"),
    ],
)
def test_bad_rewards_are_one_line_naming_the_field(tmp_path, rewards, msg):
    (tmp_path / "my_rewards.py").write_text(BREVITY)
    (tmp_path / "broken.py").write_text("1 / 0\n")
    rewards = rewards.replace("REWARDS", str(tmp_path / "my_rewards.py")).replace("BROKEN", str(tmp_path / "broken.py"))
    with pytest.raises(SeethinkError, match=msg) as e:
        load_recipe(RECIPES / "staged.yaml", [f"stages.0.rewards={rewards}"])
    assert "\n" not in str(e.value)


def test_rewards_are_a_grpo_setting_and_one_merged_run_has_one():
    with pytest.raises(SeethinkError, match="stages.0.rewards: a GRPO setting; stage 'caption_sft' is sft"):
        load_recipe(RECIPES / "sft-perception.yaml", ["stages.0.rewards={accuracy: 1.0}"])
    staged = load_recipe(RECIPES / "staged.yaml", ["stages.1.rewards={accuracy: 1.0}"])
    with pytest.raises(SeethinkError, match="cannot merge staged: stage 'text_reasoning' has rewards"):
        merged_stage(staged)
