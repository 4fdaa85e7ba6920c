"""Does requirements.lock match pyproject.toml? Offline and deterministic: the lock must pin
exactly the runtime requirements and what they need, nothing else.

The rule, for a lock made by `uv pip compile --generate-hashes` (its `# via` notes are the
dependency graph it resolved):
- every pin is `name==version` with at least one sha256 hash, and each name is pinned once;
- every runtime requirement of pyproject.toml is pinned, to a version its specifier allows, and
  the lock says it is there because of pyproject (`via paybot (pyproject.toml)`);
- nothing else claims to be there because of pyproject (a dependency dropped from pyproject);
- every pin names why it is there, only pinned packages or pyproject as parents, and is
  reachable from pyproject's requirements through them (no orphans);
- where the running environment has a pinned package at the pinned version, each requirement
  in its metadata that applies on Linux/CPython 3.11 (extras included) is pinned, and the pin
  satisfies it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PROJECT_PARENT = "paybot (pyproject.toml)"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s\\;]+)")
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")

# The image's interpreter: python:3.11-slim on Linux.
TARGET_ENV: dict[str, str] = {
    **{key: str(value) for key, value in default_environment().items()},
    "python_version": "3.11",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "os_name": "posix",
    "platform_system": "Linux",
}


@dataclass
class Pin:
    name: str
    version: Version
    hashes: int = 0
    via: list[str] = field(default_factory=list)
    count: int = 1


def parse_lock(text: str) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            name = canonicalize_name(match["name"])
            if name in pins:
                pins[name].count += 1
                current = pins[name]
            else:
                current = pins[name] = Pin(name, Version(match["version"]))
            current.hashes += len(_HASH.findall(line))
            in_via = False
            continue
        stripped = line.strip()
        if current is None or not stripped:
            continue
        if stripped.startswith("--hash="):
            current.hashes += len(_HASH.findall(stripped))
        elif stripped == "# via":
            in_via = True
        elif stripped.startswith("# via "):
            current.via.append(stripped.removeprefix("# via ").strip())
            in_via = False
        elif in_via and stripped.startswith("#   "):
            current.via.append(stripped.removeprefix("#   ").strip())
        elif not stripped.startswith("#"):
            current = None  # an unexpected line: later notes cannot belong to a pin
    return pins


def _parent_name(via: str) -> str:
    return via if via == PROJECT_PARENT else canonicalize_name(via.split(" ")[0])


def applies(requirement: Requirement, extras: Iterable[str] = ("",)) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**TARGET_ENV, "extra": e}) for e in extras)


def lock_problems(
    lock_text: str,
    requirements: Iterable[str],
    installed: Mapping[str, tuple[Version, list[str]]] | None = None,
) -> list[str]:
    """Everything wrong with the lock for these runtime requirements; [] when it matches.

    `installed` maps a canonical name to (version, its Requires-Dist), for the metadata check.
    """
    pins = parse_lock(lock_text)
    problems: list[str] = []
    for pin in pins.values():
        if pin.count > 1:
            problems.append(f"{pin.name}: pinned {pin.count} times")
        if pin.hashes == 0:
            problems.append(f"{pin.name}: no sha256 hash")
        if not pin.via:
            problems.append(f"{pin.name}: no `# via` note saying why it is pinned")
        for via in pin.via:
            parent = _parent_name(via)
            if parent != PROJECT_PARENT and parent not in pins:
                problems.append(f"{pin.name}: needed by {via}, which the lock does not pin")

    roots = [Requirement(r) for r in requirements]
    direct: set[str] = {canonicalize_name(r.name) for r in roots if applies(r)}
    for requirement in roots:
        if not applies(requirement):
            continue
        name = canonicalize_name(requirement.name)
        root_pin = pins.get(name)
        if root_pin is None:
            problems.append(f"{requirement}: in pyproject.toml, not in the lock")
        elif not requirement.specifier.contains(root_pin.version, prereleases=True):
            problems.append(f"{requirement}: the lock pins {root_pin.version}")
    for pin in pins.values():
        claims = PROJECT_PARENT in pin.via
        if claims and pin.name not in direct:
            problems.append(f"{pin.name}: pinned for pyproject.toml, which no longer asks for it")
        if pin.name in direct and not claims:
            problems.append(f"{pin.name}: a pyproject.toml requirement not noted as such")

    reachable: set[str] = set(direct) & set(pins)
    frontier = list(reachable)
    children: dict[str, set[str]] = {}
    for pin in pins.values():
        for via in pin.via:
            children.setdefault(_parent_name(via), set()).add(pin.name)
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in reachable:
                reachable.add(child)
                frontier.append(child)
    orphans = sorted(pins.keys() - reachable)
    problems += [f"{name}: not needed by pyproject.toml" for name in orphans]

    if installed is not None:
        problems += _metadata_problems(pins, roots, installed)
    return problems


def _metadata_problems(
    pins: Mapping[str, Pin],
    roots: list[Requirement],
    installed: Mapping[str, tuple[Version, list[str]]],
) -> list[str]:
    """Each pinned distribution's own requirements, where its pinned version is installed."""
    extras: dict[str, set[str]] = {}
    for requirement in roots:
        if applies(requirement):
            extras.setdefault(canonicalize_name(requirement.name), {""}).update(requirement.extras)
    problems: set[str] = set()
    changed = True
    while changed:  # extras requested further down add requirements: to a fixed point
        changed = False
        for name, pin in pins.items():
            found = installed.get(name)
            if found is None or found[0] != pin.version:
                continue
            for line in found[1]:
                requirement = Requirement(line)
                if not applies(requirement, extras.get(name, {""})):
                    continue
                child = canonicalize_name(requirement.name)
                child_pin = pins.get(child)
                if child_pin is None:
                    problems.add(f"{child}: {name} {pin.version} requires it; not in the lock")
                    continue
                if not requirement.specifier.contains(child_pin.version, prereleases=True):
                    problems.add(f"{child}: {name} requires {requirement.specifier}")
                wanted = extras.setdefault(child, {""})
                if not set(requirement.extras) <= wanted:
                    wanted.update(requirement.extras)
                    changed = True
    return sorted(problems)


def installed_metadata(names: Iterable[str]) -> dict[str, tuple[Version, list[str]]]:
    found: dict[str, tuple[Version, list[str]]] = {}
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[name] = (Version(dist.version), list(dist.requires or []))
    return found
