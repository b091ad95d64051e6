"""The README: short, its two commands found by their markers (as CI finds them), its links pointing at files."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def ci_command(name: str) -> str:
    p = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "readme_command.py"), str(ROOT / "README.md"), name],
        capture_output=True,
        text=True,
        check=True,
    )
    return p.stdout.strip()


def test_the_readme_is_short_and_says_what_seethink_is_first():
    assert len(README) <= 9000
    first_screen = README.split("```")[0]
    assert "capability curriculum" in first_screen
    assert "arxiv.org/abs/2605.20177" in first_screen


def test_ci_finds_both_commands_by_their_markers():
    assert ci_command("main job").endswith("pip install -e . && seethink train")
    assert ci_command("tests").endswith('pip install -e ".[test]" && pytest -q')
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    assert [b.strip() for b in blocks[:2]] == [ci_command("main job"), ci_command("tests")]  # the first two, as shown


def test_every_local_link_points_at_a_file():
    links = re.findall(r"\]\(((?!https?://)[^)#]+)\)", README)
    assert links
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing
