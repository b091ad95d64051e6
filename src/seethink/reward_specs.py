"""Rewards as recipe components: `stages.k.rewards: {name: weight}` (default: the paper's accuracy 0.9 + format 0.1).

A name is one of seethink's rewards (`seethink.rewards.REWARDS`), `soft_overlong` (TRL's soft overlong
punishment, DAPO's Eq. 13, over the stage's `max_completion_length` with the last fifth as the soft band, DAPO's
4,096 of 20,480), or a user reward function by EasyR1's
convention, `path/to/file.py:function` (a relative path is relative to the recipe's folder), or by import path,
`package.module:function`. A reward function follows TRL's signature:

    def my_reward(completions, answer, options=None, **kwargs) -> list[float]

`completions` are strings (or, for chat data, message lists; `seethink.rewards.completion_text` gives the text),
`answer` the gold answers, `options` the MCQ options (None for free-form records), and `kwargs` every other
column of the stage's records (`id`, `capability`, …) plus TRL's own (`prompts`, `trainer_state`). It returns one
float per completion (None: TRL skips that reward for it). TRL weights the functions by the recipe's weights and
sums them: that sum is the reward GRPO's advantages are computed from.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from seethink.configs import did_you_mean
from seethink.errors import SeethinkError
from seethink.rewards import DEFAULT_REWARD, REWARDS


def _soft_overlong(max_completion_length: int):
    from trl.rewards import get_soft_overlong_punishment

    return get_soft_overlong_punishment(max_completion_length, max(1, max_completion_length // 5))


STAGE_REWARDS = {"soft_overlong": _soft_overlong}
"""Rewards built for a stage from its settings (name -> factory taking the stage's max_completion_length)."""


def is_user_reward(spec: str) -> bool:
    return ":" in spec


def absolute_spec(spec: str, folder: Path) -> str:
    """`file.py:function` with the file made absolute against `folder` (the recipe's), so a run started from any
    working directory, or resumed from the run folder's recipe.yaml, finds the same file."""
    target, _, fn = spec.rpartition(":")
    if target.endswith(".py") and not Path(target).is_absolute():
        return f"{(folder / target).resolve()}:{fn}"
    return spec


def reward_function(spec: str, field: str, max_completion_length: int = 1):
    """The reward function a recipe name stands for (a stage's, built for its `max_completion_length`); one line
    naming `field` if it cannot be had."""
    if spec in REWARDS:
        return REWARDS[spec]
    if spec in STAGE_REWARDS:
        return STAGE_REWARDS[spec](max_completion_length)
    if not is_user_reward(spec):
        names = [*REWARDS, *STAGE_REWARDS]
        raise SeethinkError(
            f"{field}: unknown reward {spec!r}"
            + did_you_mean(spec, names)
            + f"; seethink's are {', '.join(names)}, or name your own as file.py:function "
            "or module:function"
        )
    target, _, name = spec.rpartition(":")
    module = _module(target, field)
    fn = getattr(module, name, None)
    if fn is None:
        raise SeethinkError(f"{field}: {target} has no function {name!r}")
    if not callable(fn):
        raise SeethinkError(f"{field}: {target}:{name} is a {type(fn).__name__}, not a function")
    return fn


def _module(target: str, field: str):
    try:
        if target.endswith(".py"):
            path = Path(target)
            if not path.is_file():
                raise SeethinkError(f"{field}: reward file {path} not found")
            key = "seethink_user_reward_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
            if key not in sys.modules:
                spec = importlib.util.spec_from_file_location(key, path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules[key] = module
            return sys.modules[key]
        return importlib.import_module(target)
    except SeethinkError:
        raise
    except Exception as e:  # the user's code: any error it raises on import is theirs, named in one line
        raise SeethinkError(f"{field}: importing {target} failed: {type(e).__name__}: {e}") from None


def check_rewards(rewards: dict[str, float], field: str) -> None:
    """Every name resolves to a function now (so `--dry-run` catches it), and some weight is not 0."""
    if not rewards:
        raise SeethinkError(f"{field}: a GRPO stage needs at least one reward (the paper's: {DEFAULT_REWARD})")
    for spec in rewards:
        reward_function(spec, field)
    if not any(rewards.values()):
        raise SeethinkError(f"{field}: every weight is 0, so every advantage would be 0")
