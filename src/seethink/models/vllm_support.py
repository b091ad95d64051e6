"""Is the installed vLLM one this environment can run? Read from the installed packages' own metadata (TRL's
`vllm` extra states the vLLM range it supports; vLLM states the transformers and torch it was built against), so
an incompatible vLLM is one line before anything loads, not an import error or a wrong result hours in."""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement
from packaging.version import Version

from seethink.errors import SeethinkError


def _requirement(dist: str, name: str, extra: str | None = None) -> Requirement | None:
    """`dist`'s declared requirement on `name` (in `extra`, or unconditional), or None."""
    for line in metadata.requires(dist) or []:
        req = Requirement(line)
        if req.name.lower() != name:
            continue
        if extra is None and req.marker is None:
            return req
        if (
            extra is not None
            and req.marker is not None
            and req.marker.evaluate({"extra": extra})
            and not req.marker.evaluate({"extra": ""})
        ):
            return req
    return None


def vllm_problem() -> str | None:
    """Why the installed vLLM cannot serve TRL here (None: it can): absent, outside TRL's supported range, or built
    for another transformers/torch than the installed ones."""
    try:
        found = metadata.version("vllm")
    except metadata.PackageNotFoundError:
        return 'vLLM is not installed (pip install -e ".[vllm]" on a CUDA machine)'
    version = Version(found)
    trl_range = _requirement("trl", "vllm", extra="vllm")
    if trl_range is not None and not trl_range.specifier.contains(version, prereleases=True):
        return (
            f"vllm {found} is installed, but TRL {metadata.version('trl')} supports vllm{trl_range.specifier} "
            '(pip install -e ".[vllm]" installs a version that fits)'
        )
    for name in ("transformers", "torch"):
        need = _requirement("vllm", name)
        have = _installed(name)
        if need is not None and have is not None and not need.specifier.contains(Version(have), prereleases=True):
            return (
                f"vllm {found} needs {name}{need.specifier}, but {name} {have} is installed "
                '(pip install -e ".[vllm]" installs the version set that fits)'
            )
    return None


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name).split("+")[0]
    except metadata.PackageNotFoundError:
        return None


def check_vllm(what: str) -> None:
    """Refuse `what` (e.g. "rollouts.engine vllm") in one line when vLLM cannot run here."""
    problem = vllm_problem()
    if problem:
        raise SeethinkError(f"{what}: {problem}")


def vllm_usable() -> bool:
    """vLLM can generate in this process: a fitting version and a CUDA GPU."""
    import torch

    return torch.cuda.is_available() and vllm_problem() is None
