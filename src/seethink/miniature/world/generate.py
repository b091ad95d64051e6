"""Turn scenes and question families into records of the seethink schema.

Two shortcuts are removed here, because a policy trained with RL finds them within minutes:
- the correct letter is dealt from shuffled blocks of "ABCD" per family, so every letter is gold equally often;
- among a scene's candidate questions, the one whose gold answer is rarest so far in that family is chosen,
  so gold answers are spread as evenly as the world allows (no "always answer 2").
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, fields
from typing import Iterator

from PIL import Image

from seethink.configs import FieldError, did_you_mean, require
from seethink.errors import SeethinkError
from seethink.grading import formatted
from seethink.miniature.world import DATASETS, families_v5
from seethink.miniature.world import families as fam
from seethink.miniature.world.language import caption
from seethink.miniature.world.scene import Scene, render, sample_scene
from seethink.miniature.world.word_problems import word_problem
from seethink.records.mcq import LETTERS, LetterDealer, format_mcq, place_answer
from seethink.seeding import derive_seed

CAPTION_PROMPT = "Describe the image in detail."
FAMILY_SETS = {"v4": fam.FAMILIES, "v5": families_v5.FAMILIES}


@dataclass(frozen=True)
class WorldConfig:
    """The settings that fix how hard the world is."""

    image_size: int = 64
    min_objects: int = 1
    max_objects: int = 6
    max_text_steps: int = 6  # word problems take 1..max_text_steps add/subtract steps
    text_max_start: int = 30  # start from 2..text_max_start
    text_max_operand: int = 12  # add or take away 1..text_max_operand per step
    text_max_value: int = 99  # and never go above this (0: no limit), so every number is one or two digits
    text_step_weights: tuple | None = None
    """Relative frequency of word problems of 1..max_text_steps steps (None: equally often, in turn). A pretraining
    world uses it to show long chains rarely rather than never."""
    families: str = "v4"
    """Which scene-question families the image capabilities ask (`FAMILY_SETS`): `v4`, base v4's (4-option
    perception MCQs; count-based visual reasoning), or `v5`, base v5's (free-form answers a guess cannot earn;
    visual reasoning that needs perception and a chain of steps: `seethink.miniature.world.families_v5`)."""

    def __post_init__(self):
        if not 1 <= self.min_objects <= self.max_objects <= 9:
            raise SeethinkError(
                f"world: min_objects/max_objects must satisfy 1 <= min <= max <= 9 (a 3×3 grid), "
                f"got {self.min_objects}, {self.max_objects}"
            )
        if self.image_size < 32:
            raise SeethinkError(f"world: image_size must be >= 32, got {self.image_size}")
        if self.max_text_steps < 1 or self.text_max_operand < 1 or self.text_max_start < 2:
            raise SeethinkError(
                "world: word problems need max_text_steps >= 1, text_max_operand >= 1 and "
                f"text_max_start >= 2, got {self.max_text_steps}, {self.text_max_operand}, "
                f"{self.text_max_start}"
            )
        w = self.text_step_weights
        if w is not None:
            if (
                not isinstance(w, (list, tuple))
                or len(w) != self.max_text_steps
                or not all(isinstance(x, (int, float)) and x >= 0 for x in w)
                or not sum(w) > 0
            ):
                raise SeethinkError(
                    f"world: text_step_weights must be {self.max_text_steps} weights >= 0 (one per "
                    f"number of steps, 1..max_text_steps), not all 0; got {w!r}"
                )
            object.__setattr__(self, "text_step_weights", tuple(w))
        if self.families not in FAMILY_SETS:
            raise SeethinkError(f"world: families must be one of {', '.join(FAMILY_SETS)}, got {self.families!r}")
        if self.text_max_value and self.text_max_value < self.text_max_start:
            raise SeethinkError(
                f"world: text_max_value ({self.text_max_value}) is below text_max_start ({self.text_max_start})"
            )


def world_config(settings: dict) -> WorldConfig:
    """The `WorldConfig` of a mapping of its fields (a pretraining config's or a study's `world`): an unknown key
    or a bad value is one line naming `world.<key>` or `world`."""
    known = [f.name for f in fields(WorldConfig)]
    for key in settings:
        require(key in known, f"world.{key}", "unknown key" + did_you_mean(key, known))
    try:
        return WorldConfig(**settings)
    except TypeError as e:
        raise FieldError("world", str(e)) from None
    except SeethinkError as e:
        raise FieldError("world", str(e).removeprefix("world: ")) from None


def solution_text(reasoning: list[str], answer: str) -> str:
    """The reference completion: reasoning inside <think>, final answer boxed (the paper's format)."""
    return formatted(" ".join(reasoning), answer)


@dataclass
class Generated:
    record: dict
    scene: Scene | None
    more: tuple[Scene, ...] = ()
    """The further scenes of a multi-image record, in order (`scene` is the first)."""

    @property
    def image(self) -> Image.Image | None:
        """Rendered on demand: callers that only need text (the tokenizer corpus) skip the drawing."""
        return None if self.scene is None else render(self.scene)

    @property
    def images(self) -> list[Image.Image]:
        """Every image of the record, in order."""
        return [render(s) for s in ([self.scene] if self.scene else []) + list(self.more)]


def _pick(cands: list[fam.Candidate], seen: Counter, rng: random.Random) -> fam.Candidate:
    low = min(seen[c.answer] for c in cands)
    return rng.choice([c for c in cands if seen[c.answer] == low])


def _base_record(rid: str, capability: str, family: str, scene: Scene | None) -> dict:
    return {
        "id": rid,
        "capability": capability,
        "family": family,
        "source": "seethink-world",
        "pass_rate": None,
        "caption": caption(scene) if scene else None,
        "scene": scene.to_dict() if scene else None,
    }


def generate(capability: str, split: str, n: int, seed: int, cfg: WorldConfig = WorldConfig()) -> Iterator[Generated]:
    """Yield `n` records (with their rendered image, if any) for one capability and split, deterministically."""
    rng = random.Random(derive_seed(seed, capability, split))
    if capability == "captions":
        yield from _captions(split, n, rng, cfg)
        return
    if capability == "text_reasoning":
        yield from _word_problems(split, n, seed, rng, cfg)
        return
    if capability == "image_pairs":
        yield from _pairs(split, n, rng, cfg)
        return
    if capability not in fam.SCENE_CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; expected one of {DATASETS}")
    yield from _family_records(capability, split, n, rng, cfg)


def _captions(split: str, n: int, rng: random.Random, cfg: WorldConfig) -> Iterator[Generated]:
    for i in range(n):
        scene = sample_scene(rng, cfg.image_size, cfg.min_objects, cfg.max_objects)
        rec = _base_record(f"captions-{split}-{i:06d}", "perception", "caption", scene)
        rec.update(
            problem=CAPTION_PROMPT,
            answer=rec["caption"],
            solution=rec["caption"],
            options=None,
            facts=[],
            difficulty=len(scene.objects),
        )
        yield Generated(rec, scene)


def _family_records(capability: str, split: str, n: int, rng: random.Random, cfg: WorldConfig) -> Iterator[Generated]:
    """The capability's families in turn: MCQs from an `mcq` family, free-form questions from the others."""
    table = fam.families_of(capability, FAMILY_SETS[cfg.families])
    seen = {f.name: Counter() for f in table}
    dealers = {f.name: LetterDealer(rng) for f in table}
    for i in range(n):
        f = table[i % len(table)]
        family = f.name
        while True:
            scene = sample_scene(rng, cfg.image_size, cfg.min_objects, cfg.max_objects)
            cands = f.candidates(scene, cfg.max_objects)
            if f.mcq:
                cands = [c for c in cands if len(set(c.distractor_pool) - {c.answer}) >= len(LETTERS) - 1]
            if cands:
                break
        c = _pick(cands, seen[family], rng)
        seen[family][c.answer] += 1
        rec = _base_record(f"{capability}-{split}-{i:06d}", capability, family, scene)
        if f.mcq:
            letter = dealers[family]()
            wrong = rng.sample(sorted(set(c.distractor_pool) - {c.answer}), len(LETTERS) - 1)
            options = place_answer(c.answer, wrong, letter)
            # the reference solution boxes the option text (scored as correct, like the letter): the tiny
            # default decoder did not learn to map a value back to its letter within its pretraining budget
            rec.update(
                problem=format_mcq(c.question, options),
                answer=letter,
                options=options,
                solution=solution_text(c.reasoning, c.answer),
                difficulty=f.difficulty(scene),
            )
        else:
            rec.update(
                problem=c.question,
                answer=c.answer,
                options=None,
                solution=solution_text(c.reasoning, c.answer),
                difficulty=f.difficulty(scene),
            )
        rec["facts"] = c.facts
        yield Generated(rec, scene)


def _pairs(split: str, n: int, rng: random.Random, cfg: WorldConfig) -> Iterator[Generated]:
    """The two-image family: records of capability visual_reasoning with two scenes."""
    seen = Counter()
    for i in range(n):
        while True:
            first, second = (sample_scene(rng, cfg.image_size, cfg.min_objects, cfg.max_objects) for _ in range(2))
            cands = fam.compare_pair(first, second, cfg.max_objects)
            if cands:
                break
        c = _pick(cands, seen, rng)
        seen[c.answer] += 1
        rec = _base_record(f"image_pairs-{split}-{i:06d}", "visual_reasoning", "compare_pair", None)
        rec.update(
            caption=f"First image: {caption(first)} Second image: {caption(second)}",
            scenes=[first.to_dict(), second.to_dict()],
            problem=c.question,
            answer=c.answer,
            options=None,
            solution=solution_text(c.reasoning, c.answer),
            difficulty=2,
            facts=c.facts,
        )
        yield Generated(rec, first, (second,))


def _word_problems(split: str, n: int, seed: int, rng: random.Random, cfg: WorldConfig) -> Iterator[Generated]:
    seen = Counter()
    step_rng = random.Random(derive_seed(seed, "text_reasoning", split, "steps"))  # the problems' own stream stays put
    for i in range(n):
        if cfg.text_step_weights is None:
            steps = 1 + i % cfg.max_text_steps
        else:
            steps = step_rng.choices(range(1, cfg.max_text_steps + 1), weights=cfg.text_step_weights)[0]
        cands = [
            word_problem(rng, steps, cfg.text_max_start, cfg.text_max_operand, cfg.text_max_value) for _ in range(4)
        ]
        c = _pick(cands, seen, rng)
        seen[c.answer] += 1
        rec = _base_record(f"text_reasoning-{split}-{i:06d}", "text_reasoning", "word_problem", None)
        rec.update(
            problem=c.question,
            answer=c.answer,
            solution=solution_text(c.reasoning, c.answer),
            options=None,
            facts=[],
            difficulty=steps,
        )
        yield Generated(rec, None)
