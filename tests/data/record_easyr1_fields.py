"""Record EasyR1's config schema (its dataclasses' field names, nested as `verl.trainer.main` builds the config) as
facts for tests/test_export.py, read with `ast` from a checkout -- nothing of EasyR1 is imported or copied.

    python tests/data/record_easyr1_fields.py /path/to/EasyR1 > tests/data/easyr1_config_fields.json
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

FILES = [
    "verl/trainer/config.py",
    "verl/workers/config.py",
    "verl/workers/actor/config.py",
    "verl/workers/critic/config.py",
    "verl/workers/rollout/config.py",
    "verl/workers/reward/config.py",
]


def classes(root: Path) -> dict[str, dict[str, str | None]]:
    """{class: {field: the dataclass it holds, or None}} for every field a config file may set (init=True)."""
    out = {}
    for f in FILES:
        for node in ast.parse((root / f).read_text()).body:
            if not isinstance(node, ast.ClassDef):
                continue
            fields = {}
            for item in node.body:
                if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                    continue
                v = item.value
                if isinstance(v, ast.Call) and any(
                    k.arg == "init" and getattr(k.value, "value", True) is False for k in v.keywords
                ):
                    continue
                ann = ast.unparse(item.annotation)
                fields[item.target.id] = ann if ann.endswith("Config") else None
            out[node.name] = fields
    return out


def tree(cls: str, known: dict) -> dict:
    return {k: (tree(t, known) if t in known else None) for k, t in known[cls].items()}


if __name__ == "__main__":
    root = Path(sys.argv[1])
    head = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%H %cs"], capture_output=True, text=True
    ).stdout.split()
    print(
        json.dumps(
            {
                "repository": "hiyouga/EasyR1",
                "commit": head[0] if head else None,
                "date": head[1] if len(head) > 1 else None,
                "schema": tree("PPOConfig", classes(root)),
            },
            indent=1,
        )
    )
