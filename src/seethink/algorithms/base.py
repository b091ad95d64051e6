"""What every training algorithm of a stage is: its TRL config and trainer, its dataset, its budget arithmetic,
its log keys and its own recipe checks. An algorithm is one module of this package holding one `Algorithm`.

This package sits below `seethink.recipe` and `seethink.train` (both use it) and imports neither: a stage is
whatever has the recipe's stage fields, and the services of the training loop it needs (the rollout sample
log) are handed to `trainer`. Heavy libraries (trl, datasets) are imported when used, so reading a recipe stays
light.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

from seethink.records.io import load_image
from seethink.trl_fields import check_trl_fields


def micro_batch(stage) -> int:
    """Sequences per device in one forward/backward pass (`micro_batch_size`; 0 means `batch_size`)."""
    return stage.micro_batch_size or stage.batch_size


def accumulation_steps(stage) -> int:
    """Forward/backward passes whose gradients one update accumulates (TRL's gradient_accumulation_steps)."""
    return stage.batch_size // micro_batch(stage)


def _decoded(batch: dict) -> dict:
    """A batch of rows with each `images` entry's paths opened as images (at access: `Dataset.with_transform`)."""
    return {**batch, "images": [[load_image(p) for p in paths] for paths in batch["images"]]}


def lazy_dataset(rows: list[dict]):
    """Rows holding image *paths*, decoded when the trainer reads a row: memory and start-up time do not grow with
    the stage's images (a 240k-row stage would otherwise hold every decoded image, re-encoded, on every process)."""
    from datasets import Dataset

    return Dataset.from_list(rows).with_transform(_decoded)


def _default(f: dataclasses.Field):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


class Algorithm:
    """The defaults are those of an algorithm that trains on fixed examples, one batch per update."""

    name: ClassVar[str]
    config_class_name: ClassVar[str]
    """The class of the installed TRL's config (`trl.<name>`)."""
    trainer_class_name: ClassVar[str]
    samples: ClassVar[bool] = False
    """Samples rollouts from the policy (groups, rewards, a KL reference, a rollout engine)."""
    exports: ClassVar[bool] = False
    """`seethink export verl` writes its stages for EasyR1/verl."""
    own_settings: ClassVar[tuple[str, ...]] = ()
    """Stage fields only this algorithm reads: another algorithm's stage must leave them at their defaults."""
    log_keys: ClassVar[dict[str, str]] = {}
    """TRL log key -> metrics.jsonl column."""

    def config_class(self):
        import trl

        return getattr(trl, self.config_class_name)

    def trainer_class(self):
        import trl

        return getattr(trl, self.trainer_class_name)

    # budget arithmetic; a recipe's batch sizes are per device
    def updates_per_round(self, stage) -> int:
        """Optimizer updates one round of data feeds (a GRPO rollout round: several)."""
        return 1

    def rounds(self, stage) -> int:
        return stage.steps // self.updates_per_round(stage)

    def rows_per_round(self, stage, processes: int) -> int:
        """Rows (prompts or examples) one round consumes over all `processes`."""
        return stage.batch_size * processes

    def stage_rows(self, stage, processes: int) -> int:
        """Rows the whole stage trains on, each exactly once."""
        return self.rounds(stage) * self.rows_per_round(stage, processes)

    def rollouts(self, stage) -> int:
        """Completions the stage samples per device; for an algorithm that samples none, the examples it trains on."""
        return stage.steps * stage.batch_size

    # recipe checks
    def check(self, stage, p: str, where, others: list[Algorithm]) -> None:
        """This algorithm's rules for a stage (`p`: its field path); another algorithm's settings stay unset."""
        defaults = {f.name: _default(f) for f in dataclasses.fields(stage)}
        for other in others:
            for key in other.own_settings:
                if key not in self.own_settings and getattr(stage, key) != defaults[key]:
                    where.fail(
                        f"{p}.{key}", f"a {other.name.upper()} setting; stage {stage.name!r} is {stage.algorithm}"
                    )
        if stage.trl:
            check_trl_fields(stage.trl, self.config_class(), f"{p}.trl", where)

    # training
    def trl_args(self, stage, engine: dict) -> dict:
        """The algorithm's own config fields; `engine`: the reference-model and rollout-engine settings the
        training loop derived from the recipe (used by algorithms that sample)."""
        return {}

    def dataset(self, records: list[dict]):
        raise NotImplementedError

    def trainer(
        self,
        stage,
        model,
        processor,
        records: list[dict],
        config,
        peft_config=None,
        *,
        seed: int = 0,
        shuffle_rewards: bool = False,
        sample_log: Callable[[Any], Any] | None = None,
    ) -> tuple[Any, dict[str, str]]:
        """The stage's TRL trainer and the log keys it reports. `sample_log(reward)`: a wrapper keeping some
        rollouts (a callback), for algorithms that sample; `shuffle_rewards`: the null control."""
        trainer = self.trainer_class()(
            model=model,
            args=config,
            train_dataset=self.dataset(records),
            processing_class=processor,
            peft_config=peft_config,
        )
        return trainer, dict(self.log_keys)
