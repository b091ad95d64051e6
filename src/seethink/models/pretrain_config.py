"""The settings that fix the pretrained base (no heavy imports: the CLI reads its defaults from here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from seethink.world.generate import WorldConfig


@dataclass
class PretrainConfig:
    """Everything that fixes the base; saved next to it as `pretrain_config.json`."""

    size: str = "tiny"
    seed: int = 0
    steps: int = 2000
    batch_size: int = 48
    lr: float = 2e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    # records drawn from the world per dataset (each seen about steps*batch/total times)
    mix: dict = field(default_factory=lambda: {"captions": 8000, "perception": 8000, "visual_reasoning": 8000,
                                               "text_reasoning": 6000})
    data_scale: float = 1.0  # multiplies every count in `mix` (tests and smoke runs use a small fraction)
    world: dict = field(default_factory=lambda: asdict(WorldConfig()))
