"""The settings that fix the pretrained base (no heavy imports: the CLI reads its defaults from here)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from seethink.configs import FieldError, load, one_of, require
from seethink.miniature.sizes import SIZES
from seethink.miniature.world.generate import WorldConfig, world_config

MIX = ("captions", "perception", "visual_reasoning", "text_reasoning")
"""The datasets a base's pretraining mix draws records from."""
STYLE_DATASETS = {
    "terse": ("perception", "visual_reasoning", "text_reasoning"),
    "look": ("perception", "visual_reasoning"),
    "guess": ("perception", "visual_reasoning", "text_reasoning"),
    "quick": ("perception", "visual_reasoning", "text_reasoning"),
}
"""Answer styles other than the worked solution, in the order an example's draw falls on them, and the question
datasets each may be given a share of (`PretrainConfig.terse`, `.look`, `.guess`, `.quick`). A new style goes last:
an example's draw then falls on the old styles as before, so every older base regenerates unchanged."""


@dataclass
class PretrainConfig:
    """Everything that fixes the base; saved next to it as `pretrain_config.json`. The defaults are base v2's
    (`configs/base-v2.yaml` spells them out); the shipped base v4 continues it (`configs/base.yaml`)."""

    size: str = "tiny-v2"
    """Model size preset (`seethink.miniature.sizes.SIZES`)."""
    patch_size: int = 8
    """Vision-tower patch size in pixels: (image_size / patch_size)² image tokens."""
    seed: int = 0
    steps: int = 5625
    batch_size: int = 48
    lr: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    # records drawn from the world per dataset, each seen once (steps * batch_size = their sum)
    mix: dict[str, int] = field(
        default_factory=lambda: {
            "captions": 90000,
            "perception": 80000,
            "visual_reasoning": 60000,
            "text_reasoning": 40000,
        }
    )
    data_scale: float = 1.0  # multiplies every count in `mix` (tests and smoke runs use a small fraction)
    world: dict = field(default_factory=lambda: asdict(WorldConfig(max_text_steps=4)))
    """The world the base learns from: the built-in one, but with word problems of at most 4 steps, so the text
    stage's problems (1-6 steps) ask for longer reasoning than the base was ever shown."""
    terse: dict = field(default_factory=dict)
    """Per dataset, the share of its examples answered tersely: `<think>Answer: X.</think>\\boxed{X}`
    instead of the world's worked solution (e.g. {text_reasoning: 0.5}). Bases the paper trains answer in more than
    one style, and much of what RLVR does is choose among the behaviours a base already has (the style a sample
    takes is not fixed by the prompt, so a base taught both samples both). Empty (base v2): every example worked."""
    look: dict = field(default_factory=dict)
    """Per image dataset, the share of its examples whose reasoning first describes the whole image (the record's
    dense caption), then reasons as the worked solution does: "see first, then think" as a sampled behaviour."""
    guess: dict = field(default_factory=dict)
    """Per question dataset, the share of its examples answered with a guess: `<think>Guess: X.</think>\\boxed{X}`,
    X one of the options at random (MCQs) or the answer of the dataset's previous example (a draw from its answer
    prior), so nothing about the image or the question. The careless answers of a real pretraining corpus: a base
    taught them samples them, and RL with a verifiable reward learns to stop.

    Any style's share may be a pair [easiest, hardest]: the share of one example then rises linearly with how hard
    it is (objects in its image, steps in its word problem; `seethink.miniature.pretrain.hardness`), so the base
    answers carelessly more often the harder the question, and its greedy answer takes the careless style on the
    hard questions rather than on all or none (a single share near 0.5 acts like a switch on the greedy answer)."""
    quick: dict = field(default_factory=dict)
    """Per question dataset, the share of its examples answered as a guess is (the same answer, drawn from the
    options or the answer prior) but opened with `Quick:` instead of `Guess:`: `<think>Quick: X.</think>\\boxed{X}`.
    It gives one capability a careless habit of its own. Two capabilities whose habits share an opening share the
    habit: a stage that teaches one to stop teaches the other too, so the stages could not be told apart by what
    each one fixes (measured: docs/experiments/main-job.md)."""
    vision_frozen_steps: int = 0
    """Steps for which the vision tower keeps its starting weights while the projector and decoder learn to read
    it (base v5; `seethink.miniature.vision_phase` says why). 0: trained from the first step, as every base before
    v5."""
    vision_lr_scale: float = 1.0
    """The tower's learning rate after the frozen phase, as a share of the configured one (warmed up again)."""
    init: str | None = None
    """A base folder written by `seethink pretrain` to continue from (None: a new model from `size`). Its size and
    patch size must be the ones given here; the data stream is the same `pretrain` stream of the world, so give a
    `seed` other than the first run's to draw new examples."""

    def __post_init__(self):
        one_of(self.size, tuple(SIZES), "size")
        for name in ("patch_size", "steps", "batch_size"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1, name, f"must be a whole number >= 1, got {value!r}")
        frozen = self.vision_frozen_steps
        require(
            isinstance(frozen, int) and not isinstance(frozen, bool) and 0 <= frozen <= self.steps,
            "vision_frozen_steps",
            f"must be a whole number in [0, steps={self.steps}], got {frozen!r}",
        )
        require(0 <= self.vision_lr_scale <= 10, "vision_lr_scale", f"must be in [0, 10], got {self.vision_lr_scale}")
        require(0 < self.lr < 1, "lr", f"must be in (0, 1), got {self.lr}")
        require(0 < self.data_scale <= 10, "data_scale", f"must be in (0, 10], got {self.data_scale}")
        world = world_config(self.world)
        self.world = json.loads(json.dumps(asdict(world)))  # every field spelt out, as pretrain_config.json has it
        require(
            world.image_size % self.patch_size == 0,
            "patch_size",
            f"{self.patch_size} does not divide world.image_size {world.image_size}",
        )
        if self.init is not None:
            self._check_init()
        require(
            not set(self.mix) - set(MIX) and all(isinstance(n, int) and n >= 0 for n in self.mix.values()),
            "mix",
            f"expected record counts (whole numbers >= 0) of {', '.join(MIX)}; got {self.mix}",
        )
        for name, allowed in STYLE_DATASETS.items():
            shares = getattr(self, name)
            require(
                isinstance(shares, dict) and all(k in allowed and _is_share(v) for k, v in shares.items()),
                name,
                f"expected shares in [0, 1] (or [easiest, hardest] pairs of them) of {', '.join(allowed)}; "
                f"got {shares}",
            )
        for k in self.mix:
            for end in (0, 1):
                require(
                    sum(_end(getattr(self, style).get(k, 0), end) for style in STYLE_DATASETS) <= 1,
                    "+".join(STYLE_DATASETS),
                    f"the shares of {k} add up to more than 1 ("
                    + ", ".join(f"{st} {getattr(self, st)}" for st in STYLE_DATASETS)
                    + ")",
                )

    def _check_init(self) -> None:
        stamp = Path(str(self.init)) / "pretrain_config.json"
        require(
            stamp.is_file(),
            "init",
            f"{self.init} is not a base written by `seethink pretrain` (no pretrain_config.json)",
        )
        try:
            before = json.loads(stamp.read_text())
        except ValueError:
            raise FieldError("init", f"{stamp} is not valid JSON") from None
        for name in ("size", "patch_size"):
            require(
                before.get(name) == getattr(self, name),
                "init",
                f"{self.init} has {name} {before.get(name)!r}, this config {getattr(self, name)!r}",
            )


def load_pretrain_config(path: str | Path, overrides: list[str] = ()) -> PretrainConfig:
    """A PretrainConfig from YAML (after `--set` overrides), through the typed loader recipes use: unknown keys
    and bad values are one line naming the file and the field. A `world` given here starts from the world's own
    defaults (`WorldConfig`), not from the pretraining default's."""
    return load(PretrainConfig, path, "pretraining config", overrides)


def _is_share(v, pair_ok: bool = True) -> bool:
    """A share in [0, 1], or an [easiest, hardest] pair of them."""
    if isinstance(v, (list, tuple)):
        return pair_ok and len(v) == 2 and all(_is_share(x, pair_ok=False) for x in v)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1


def _end(v, end: int) -> float:
    return v[end] if isinstance(v, (list, tuple)) else v
