"""Pretraining with the vision tower held at its starting weights for a first phase, then trained at its own,
lower learning rate (base v5, issue 35).

Why: a probe on base v4's tower reads an object's shape at 0.695, a randomly initialised tower of the same
architecture at 0.925 (docs/experiments/base-v5-pilots.md, pilot 1): training the tower from the start on
captions and answers erased shape information a random tower keeps. With the tower frozen, the projector and the
decoder learn to read the features it has; unfrozen later at a small learning rate, it adapts without being
rewritten.

How: the Trainer's own optimizer, with the tower's parameters in groups of their own, and a per-group schedule:
the rest follows the configured cosine schedule; the tower's factor is 0 for the frozen phase, then
`vision_lr_scale` × the same cosine, warmed up again over `warmup_steps`. The tower's parameters also stop
requiring gradients while frozen (a callback sets it before every step, so a resumed run agrees), which spares
their backward pass. Optimizer and scheduler states are the Trainer's, so checkpoints resume exactly.
"""

from __future__ import annotations

import math

from torch.optim.lr_scheduler import LambdaLR
from transformers import Trainer, TrainerCallback

TOWER = "vision_tower"
"""The module holding the vision encoder in the tiny LLaVA model (the projector is not part of it)."""


def is_tower_param(name: str) -> bool:
    return TOWER in name.split(".")


def cosine(step: int, warmup: int, total: int) -> float:
    """The learning-rate factor of a linear warmup then a cosine decay to 0 (Trainer's `cosine` schedule)."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))))


def tower_factor(step: int, frozen: int, scale: float, warmup: int, total: int) -> float:
    """The tower's factor: 0 while frozen, then `scale` × the cosine, warmed up again from the end of the freeze."""
    if step < frozen:
        return 0.0
    return scale * cosine(step, warmup, total) * min(1.0, (step - frozen + 1) / max(1, warmup))


class _FreezeTower(TrainerCallback):
    def __init__(self, model, frozen: int):
        self.params = [p for n, p in model.named_parameters() if is_tower_param(n)]
        self.frozen = frozen

    def on_step_begin(self, args, state, control, **kw):
        train = state.global_step >= self.frozen
        for p in self.params:
            p.requires_grad_(train)


class VisionPhasedTrainer(Trainer):
    """A Trainer whose vision tower is frozen for `frozen` steps, then trained at `scale` × the learning rate."""

    def __init__(self, *args, frozen: int, scale: float, **kw):
        super().__init__(*args, **kw)
        self.frozen, self.scale = frozen, scale
        self.add_callback(_FreezeTower(self.model, frozen))

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            opt = super().create_optimizer(model)
            names = {id(p): n for n, p in (model or self.model).named_parameters()}
            groups = []
            for g in opt.param_groups:
                rest = [p for p in g["params"] if not is_tower_param(names[id(p)])]
                tower = [p for p in g["params"] if is_tower_param(names[id(p)])]
                groups += [{**g, "params": rest, "tower": False}, {**g, "params": tower, "tower": True}]
            opt.param_groups = []
            for g in groups:
                if g["params"]:
                    opt.add_param_group(g)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None:
            opt = optimizer or self.optimizer
            warmup = self.args.get_warmup_steps(num_training_steps)

            def rest(step):
                return cosine(step, warmup, num_training_steps)

            def tower(step):
                return tower_factor(step, self.frozen, self.scale, warmup, num_training_steps)

            self.lr_scheduler = LambdaLR(opt, [tower if g["tower"] else rest for g in opt.param_groups])
            self._created_lr_scheduler = True
        return self.lr_scheduler
