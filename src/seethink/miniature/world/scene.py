"""Scenes: a few coloured shapes on a jittered 3×3 grid, and their rendering with PIL.

Each object sits in its own cell of a 3×3 grid with a random offset inside the cell, so objects never
overlap, every object has an exact region name ("top left", "centre", …) and the layout is not aligned
with the vision tower's patches (an 8×8 grid of 8-pixel patches on the default 64×64 image). Everything is a pure
function of a `random.Random`, so a seed fixes the scene graph and the PNG bytes.
"""

from __future__ import annotations

import io
import random
from dataclasses import asdict, dataclass

from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "diamond")
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 90, 230),
    "yellow": (235, 215, 40),
    "purple": (150, 60, 200),
    "cyan": (40, 210, 220),
}
SIZES = ("small", "medium", "large")
# radius of each size as a fraction of a grid cell's width
SIZE_RADIUS = {"small": 0.20, "medium": 0.30, "large": 0.40}
REGIONS = (
    ("top left", "top", "top right"),
    ("left", "centre", "right"),
    ("bottom left", "bottom", "bottom right"),
)
BACKGROUND = (90, 90, 90)


@dataclass(frozen=True)
class Obj:
    shape: str
    colour: str
    size: str
    row: int  # 0 = top
    col: int  # 0 = left
    x: float  # centre, in pixels
    y: float

    @property
    def region(self) -> str:
        return REGIONS[self.row][self.col]


@dataclass(frozen=True)
class Scene:
    objects: tuple[Obj, ...]
    image_size: int

    def to_dict(self) -> dict:
        return {"image_size": self.image_size, "objects": [asdict(o) for o in self.objects]}

    @classmethod
    def from_dict(cls, d: dict) -> "Scene":
        return cls(tuple(Obj(**o) for o in d["objects"]), int(d["image_size"]))


def sample_scene(rng: random.Random, image_size: int = 64, min_objects: int = 1, max_objects: int = 6) -> Scene:
    """Sample 1..max_objects objects with random attributes in distinct cells of a 3×3 grid."""
    if not 1 <= min_objects <= max_objects <= 9:
        raise ValueError(f"need 1 <= min_objects <= max_objects <= 9, got {min_objects}, {max_objects}")
    n = rng.randint(min_objects, max_objects)
    cells = rng.sample(range(9), n)
    cell_w = image_size / 3
    objects = []
    for cell in sorted(cells):
        row, col = divmod(cell, 3)
        size = rng.choice(SIZES)
        radius = SIZE_RADIUS[size] * cell_w
        slack = max(0.0, cell_w / 2 - radius - 1)
        x = (col + 0.5) * cell_w + rng.uniform(-slack, slack)
        y = (row + 0.5) * cell_w + rng.uniform(-slack, slack)
        objects.append(Obj(rng.choice(SHAPES), rng.choice(list(COLOURS)), size, row, col, round(x, 2), round(y, 2)))
    return Scene(tuple(objects), image_size)


def radius_px(obj: Obj, image_size: int) -> float:
    return SIZE_RADIUS[obj.size] * image_size / 3


def render(scene: Scene) -> Image.Image:
    """Draw the scene as an RGB image."""
    img = Image.new("RGB", (scene.image_size, scene.image_size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    for o in scene.objects:
        r = radius_px(o, scene.image_size)
        fill = COLOURS[o.colour]
        x, y = o.x, o.y
        if o.shape == "circle":
            draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
        elif o.shape == "square":
            s = r * 0.88
            draw.rectangle([x - s, y - s, x + s, y + s], fill=fill)
        elif o.shape == "triangle":
            draw.polygon([(x, y - r), (x + r, y + r * 0.8), (x - r, y + r * 0.8)], fill=fill)
        elif o.shape == "diamond":
            draw.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=fill)
        else:  # pragma: no cover - SHAPES is closed
            raise ValueError(o.shape)
    return img


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def matches(obj: Obj, colour: str | None = None, shape: str | None = None, size: str | None = None) -> bool:
    return (
        (colour is None or obj.colour == colour)
        and (shape is None or obj.shape == shape)
        and (size is None or obj.size == size)
    )


def count(scene: Scene, colour: str | None = None, shape: str | None = None, size: str | None = None) -> int:
    return sum(matches(o, colour, shape, size) for o in scene.objects)


def unique_description(scene: Scene, obj: Obj) -> dict | None:
    """The shortest attribute filter (shape; colour+shape; size+colour+shape) that picks out only `obj`."""
    for keys in (("shape",), ("colour", "shape"), ("size", "colour", "shape")):
        f = {k: getattr(obj, k) for k in keys}
        if count(scene, **f) == 1:
            return f
    return None
