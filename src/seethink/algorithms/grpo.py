"""RLVR with group-relative advantages (TRL's GRPOTrainer): the paper's algorithm for every stage.

A stage samples in rollout rounds: `rollout_batch_size` completions per device (`num_generations` per prompt),
split into update minibatches of `batch_size`, each used `num_iterations` times."""

from __future__ import annotations

from seethink.algorithms.base import Algorithm, lazy_dataset, micro_batch
from seethink.errors import SeethinkError
from seethink.prompting import prompt_messages
from seethink.reward_specs import check_rewards, reward_function
from seethink.rewards import shuffled_within_groups
from seethink.trl_fields import check_loss_type

SEETHINK_REWARD_KEYS = {
    "reward": "reward",
    "rewards/accuracy_reward/mean": "accuracy",
    "rewards/format_reward/mean": "format",
}


def round_completions(stage) -> int:
    """Completions one GRPO rollout round samples per device (`rollout_batch_size`; 0 means `batch_size`)."""
    return stage.rollout_batch_size or stage.batch_size


def reward_keys(reward_fns) -> dict[str, str]:
    """metrics.jsonl names for rewards beyond seethink's own: TRL's `rewards/<function>/mean` as `reward_<function>`."""
    return {
        f"rewards/{f.__name__}/mean": f"reward_{f.__name__}"
        for f in reward_fns
        if f"rewards/{f.__name__}/mean" not in SEETHINK_REWARD_KEYS
    }


class GRPO(Algorithm):
    name = "grpo"
    config_class_name = "GRPOConfig"
    trainer_class_name = "GRPOTrainer"
    samples = True
    exports = True
    own_settings = ("rollout_batch_size", "num_iterations", "rewards", "filter_groups")
    log_keys = {
        **SEETHINK_REWARD_KEYS,
        "completions/mean_length": "completion_length",
        "kl": "kl",
        "entropy": "entropy",
        "loss": "loss",
        "learning_rate": "lr",
        "grad_norm": "grad_norm",
        "frac_reward_zero_std": "frac_zero_std",
        "clip_ratio/region_mean": "clip_fraction",
        "epoch": "epoch",
        "filter/zero_std_share": "filter_zero_std_share",
        "filter/signal_share": "filter_signal_share",
        "filter/extra_rounds": "filter_extra_rounds",
    }

    def updates_per_round(self, stage) -> int:
        """A rollout round's minibatches, each used num_iterations times."""
        return round_completions(stage) // stage.batch_size * stage.num_iterations

    def rows_per_round(self, stage, processes: int) -> int:
        """Prompts one rollout round samples over all `processes`."""
        return round_completions(stage) // stage.num_generations * processes

    def rollouts(self, stage) -> int:
        return stage.steps // stage.num_iterations * stage.batch_size

    def check(self, stage, p: str, where, others) -> None:
        s = stage
        if s.num_generations < 2:
            where.fail(f"{p}.num_generations", "GRPO needs at least 2 completions per prompt")
        if s.batch_size % s.num_generations:
            where.fail(f"{p}.batch_size", f"{s.batch_size} is not divisible by num_generations={s.num_generations}")
        if s.rollout_batch_size % s.batch_size:
            where.fail(
                f"{p}.rollout_batch_size",
                f"{s.rollout_batch_size} is not a multiple of batch_size={s.batch_size} "
                "(a rollout round is split into whole update minibatches)",
            )
        per_round = self.updates_per_round(s)
        if s.steps % per_round:
            where.fail(
                f"{p}.steps",
                f"{s.steps} is not a whole number of rollout rounds of {per_round} updates "
                f"(rollout_batch_size / batch_size × num_iterations)",
            )
        check_loss_type(s.loss_type, f"{p}.loss_type", where)
        try:
            check_rewards(s.rewards, f"{p}.rewards")
        except SeethinkError as e:
            where.fail("", str(e))
        super().check(stage, p, where, others)

    def trl_args(self, stage, engine: dict) -> dict:
        return dict(
            num_generations=stage.num_generations,
            max_completion_length=stage.max_completion_length,
            # counted in micro-batches: a round of rollout_batch_size completions feeds
            # rollout_batch_size / batch_size updates, as without micro-batches
            steps_per_generation=round_completions(stage) // micro_batch(stage),
            num_iterations=stage.num_iterations,
            temperature=stage.temperature,
            beta=stage.beta,
            loss_type=stage.loss_type,
            epsilon=stage.epsilon,
            epsilon_high=stage.epsilon_high,
            reward_weights=list(stage.rewards.values()),
            **engine,
        )

    def dataset(self, records: list[dict]):
        return lazy_dataset(
            [
                {
                    "prompt": prompt_messages(r),
                    "images": list(r["images"]),
                    "answer": r["answer"],
                    "options": r.get("options"),
                    "id": r["id"],
                }
                for r in records
            ]
        )

    def grpo_class(self, stage, records: list[dict], seed: int):
        """TRL's GRPOTrainer, or with `filter_groups` its subclass that filters zero-signal groups online."""
        if not stage.filter_groups:
            return self.trainer_class()
        from seethink.algorithms.group_filter import filtering_trainer

        rows: dict = {}
        for i, r in enumerate(records):
            rows.setdefault(r["id"], i)  # a record repeated by a later epoch: its first position
        kinds = [(r["capability"], len(r["images"])) for r in records]
        return filtering_trainer(
            self.trainer_class(), extra_rounds=stage.filter_groups, row_of_id=rows, kinds=kinds, seed=seed
        )

    def trainer(
        self,
        stage,
        model,
        processor,
        records,
        config,
        peft_config=None,
        *,
        seed=0,
        shuffle_rewards=False,
        sample_log=None,
    ):
        rewards = [
            reward_function(k, f"stage {stage.name!r}: rewards", stage.max_completion_length) for k in stage.rewards
        ]
        log = sample_log(rewards[0]) if sample_log else None
        rewards[0] = log or rewards[0]
        if shuffle_rewards:
            rewards = [shuffled_within_groups(f, seed) for f in rewards]
        trainer = self.grpo_class(stage, records, seed)(
            model=model,
            reward_funcs=rewards,
            args=config,
            train_dataset=self.dataset(records),
            processing_class=processor,
            callbacks=[log] if log else None,
            peft_config=peft_config,
        )
        return trainer, {**self.log_keys, **reward_keys(rewards)}
