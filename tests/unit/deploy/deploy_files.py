"""Readers for the deployment files, for checks without a container engine.

* :func:`dockerfile` parses ``docker/*.Dockerfile`` into stages (the instructions GSLTS
  uses: FROM, ENV, RUN, COPY, WORKDIR, USER, EXPOSE, VOLUME, HEALTHCHECK, ENTRYPOINT,
  CMD), with what a stage inherits from the stage it is built ``FROM``.
* :func:`compose` loads ``docker-compose.yml`` and interpolates it the way Compose does
  (``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
  ``${VAR?error}``, ``${VAR:+other}``, ``${VAR+other}``, ``$VAR``, ``$$``) from a dotenv
  file (``.env.example`` stands for the operator's ``.env``).
* :func:`workspace_closure` is the set of workspace members one ``uv sync --package X``
  installs, read from ``uv.lock`` alone.
* :func:`dockerignored` applies ``.dockerignore`` (the patterns GSLTS uses).

Shared by ``tests/unit/deploy`` and ``tests/integration/deploy``.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO_ROOT

DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
COMPOSE_SCHEMA = Path(__file__).with_name("compose-spec.json")


# --------------------------------------------------------------------------- Dockerfiles


@dataclass
class Copy:
    sources: list[str]
    dest: str
    from_stage: str | None  # None: from the build context
    workdir: str  # the WORKDIR in force (a relative dest is under it)

    def dest_path(self, source: str | None = None) -> str:
        """Where one source lands (a directory dest: under it, by the source's name)."""
        base = self.dest if self.dest.startswith("/") else f"{self.workdir}/{self.dest}"
        if source is not None and (self.dest.endswith("/") or len(self.sources) > 1):
            base = f"{base.rstrip('/')}/{Path(source).name}"
        return _normpath(base)


@dataclass
class Stage:
    name: str | None
    base: str
    parent: Stage | None  # the stage it is built FROM, when it is one of this file's
    env: dict[str, str] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    copies: list[Copy] = field(default_factory=list)
    #: COPYs and RUNs in file order (each a Copy or the RUN's command)
    steps: list[Copy | str] = field(default_factory=list)
    workdir: str = "/"
    user: str | None = None
    expose: list[int] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    healthcheck: list[str] | None = None  # [] = NONE
    healthcheck_options: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None

    def inherited(self, attr: str) -> Any:
        """The value in force: this stage's, else its parent stage's (as Docker does)."""
        stage: Stage | None = self
        while stage is not None:
            value = getattr(stage, attr)
            if value not in (None, [], {}) or (attr == "healthcheck" and value == []):
                return value
            stage = stage.parent
        return None

    def all_copies(self) -> list[Copy]:
        """COPYs of this stage and the stages it is built on (what its image holds)."""
        return [*(self.parent.all_copies() if self.parent else []), *self.copies]


@dataclass
class Dockerfile:
    path: Path
    stages: list[Stage]

    def stage(self, name: str | None) -> Stage:
        """A stage by name; None = the last one (what a build without --target makes)."""
        if name is None:
            return self.stages[-1]
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"{self.path.name}: no stage {name!r}")

    def uv_syncs(self, stage: Stage) -> list[list[str]]:
        """The ``uv sync`` commands a stage runs (``RUN --mount=…`` flags removed)."""
        return [argv for argv in (shlex.split(r) for r in stage.runs) if argv[:2] == ["uv", "sync"]]

    def synced_package(self, stage: Stage) -> str:
        """The one ``--package`` every ``uv sync`` of the stage installs."""
        packages = {argv[argv.index("--package") + 1] for argv in self.uv_syncs(stage)}
        assert len(packages) == 1, f"{self.path.name}: uv sync of {packages or 'no package'}"
        return packages.pop()

    def build_stage(self, final: Stage) -> Stage:
        """The stage the final one copies its ``/app`` (the environment) from."""
        for c in final.all_copies():
            if c.from_stage and self.uv_syncs(self.stage(c.from_stage)):
                return self.stage(c.from_stage)
        raise AssertionError(f"{self.path.name}: {final.name} copies no stage that runs uv sync")


def _normpath(p: str) -> str:
    parts: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts) + ("/" if p.endswith("/") and parts else "")


def logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _flags(words: list[str]) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, words


def _exec_form(rest: str) -> list[str]:
    value = json.loads(rest)
    if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise AssertionError(f"not the exec form (a JSON list of strings): {rest}")
    return value


def dockerfile(path: Path) -> Dockerfile:
    """Parse a Dockerfile (only the exec form of CMD/ENTRYPOINT/HEALTHCHECK is accepted:
    the shell form would put /bin/sh between Docker and the service)."""
    stages: list[Stage] = []
    by_name: dict[str, Stage] = {}
    for line in logical_lines(path.read_text(encoding="utf-8")):
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        rest = rest.strip()
        if instr == "FROM":
            words = rest.split()
            _, words = _flags(words)
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            parent = by_name.get(words[0])
            stage = Stage(name=name, base=words[0], parent=parent)
            if parent is not None:
                stage.workdir = parent.workdir
            stages.append(stage)
            if name:
                by_name[name] = stage
            continue
        assert stages, f"{path.name}: {instr} before FROM"
        s = stages[-1]
        if instr == "ENV":
            for word in shlex.split(rest):
                key, _, value = word.partition("=")
                s.env[key] = value
        elif instr == "RUN":
            s.runs.append(re.sub(r"^(?:--\S+\s+)*", "", rest))  # without --mount=…
            s.steps.append(s.runs[-1])
        elif instr == "COPY":
            flags, words = _flags(shlex.split(rest))
            if words and words[0].startswith("["):
                words = _exec_form(" ".join(words))
            s.copies.append(Copy(words[:-1], words[-1], flags.get("from"), s.workdir))
            s.steps.append(s.copies[-1])
        elif instr == "WORKDIR":
            s.workdir = _normpath(rest if rest.startswith("/") else f"{s.workdir}/{rest}")
        elif instr == "USER":
            s.user = rest
        elif instr == "EXPOSE":
            s.expose += [int(p.split("/")[0]) for p in rest.split()]
        elif instr == "VOLUME":
            s.volumes += _exec_form(rest) if rest.startswith("[") else rest.split()
        elif instr == "HEALTHCHECK":
            if rest.upper() == "NONE":
                s.healthcheck = []
                continue
            m = re.match(r"^((?:--\S+\s+)*)CMD\s+(.*)$", rest)
            assert m, f"{path.name}: HEALTHCHECK {rest}"
            s.healthcheck_options, _ = _flags(m.group(1).split())
            s.healthcheck = _exec_form(m.group(2))
        elif instr == "ENTRYPOINT":
            s.entrypoint = _exec_form(rest)
        elif instr == "CMD":
            s.cmd = _exec_form(rest)
        elif instr in ("ARG", "LABEL", "STOPSIGNAL", "SHELL", "ONBUILD", "ADD"):
            raise AssertionError(f"{path.name}: {instr} is not read by these checks: add it here")
        else:
            raise AssertionError(f"{path.name}: unknown instruction {instr}")
    return Dockerfile(path, stages)


def dockerfiles() -> dict[str, Dockerfile]:
    return {p.name: dockerfile(p) for p in sorted(DOCKER_DIR.glob("*.Dockerfile"))}


# --------------------------------------------------------------------------- .dockerignore


def dockerignore_patterns() -> list[str]:
    path = REPO_ROOT / ".dockerignore"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def dockerignored(rel: str, patterns: list[str] | None = None) -> bool:
    """Whether the context path ``rel`` (or a directory above it) is excluded. Patterns as
    GSLTS writes them: a path, a glob, ``**/`` for any depth, ``!`` to re-include."""
    patterns = dockerignore_patterns() if patterns is None else patterns
    parts = Path(rel).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pat = raw.lstrip("!").strip("/")
        globs = [pat]
        if pat.startswith("**/"):
            globs = [pat[3:], "*/" + pat[3:]]
        if any(fnmatch.fnmatchcase(prefix, g) for prefix in prefixes for g in globs):
            excluded = not negate
    return excluded


# --------------------------------------------------------------------------- compose

_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    """A ``${VAR:?message}`` / ``${VAR?message}`` whose variable is missing (or empty)."""


def dotenv(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (what compose reads from ``.env``); ``KEY=`` is an empty value."""
    env: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def interpolate_text(text: str, env: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("named")
        op, arg = m.group("op"), m.group("arg") or ""
        value = env.get(name)
        set_nonempty = bool(value)
        is_set = value is not None
        if op in (":-", "-"):
            use_default = not set_nonempty if op == ":-" else not is_set
            return interpolate_text(arg, env) if use_default else str(value)
        if op in (":?", "?"):
            missing = not set_nonempty if op == ":?" else not is_set
            if missing:
                raise InterpolationError(f"{name}: {arg}")
            return str(value)
        if op in (":+", "+"):
            present = set_nonempty if op == ":+" else is_set
            return interpolate_text(arg, env) if present else ""
        return value or ""

    return _VAR.sub(one, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate_text(node, env)
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    return node


def compose_raw() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file as Compose sees it with ``env`` as ``.env`` (default: what
    ``cp .env.example .env`` gives)."""
    data = interpolate(compose_raw(), dotenv(ENV_EXAMPLE) if env is None else env)
    assert isinstance(data, dict)
    return data


def compose_variables() -> set[str]:
    """Every variable the compose file interpolates."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    return {m.group("braced") or m.group("named") for m in _VAR.finditer(text)} - {None}


def service_environment(
    service: dict[str, Any], dotenv_values: Mapping[str, str]
) -> dict[str, str]:
    """The environment a container gets: its ``env_file`` (``.env`` read as
    ``dotenv_values``), overridden by ``environment``."""
    env: dict[str, str] = {}
    if service.get("env_file"):
        env.update(dotenv_values)
    given = service.get("environment") or {}
    if isinstance(given, list):
        given = dict(item.partition("=")[::2] for item in given)
    env.update({k: "" if v is None else str(v) for k, v in given.items()})
    return env


# --------------------------------------------------------------------------- uv workspace


def lock() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "uv.lock").read_text(encoding="utf-8"))


def workspace_members() -> dict[str, Path]:
    """Workspace member name → its directory (from the root pyproject and each manifest)."""
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    members: dict[str, Path] = {}
    for rel in root["tool"]["uv"]["workspace"]["members"]:
        manifest = tomllib.loads((REPO_ROOT / rel / "pyproject.toml").read_text(encoding="utf-8"))
        members[manifest["project"]["name"]] = REPO_ROOT / rel
    return members


def workspace_closure(package: str) -> set[str]:
    """The workspace members ``uv sync --package <package>`` installs, from uv.lock alone."""
    members = set(workspace_members())
    by_name = {p["name"]: p for p in lock()["package"]}
    assert package in by_name, f"{package} is not in uv.lock"
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        entry = by_name[name]
        deps = list(entry.get("dependencies", []))
        for extra_deps in entry.get("optional-dependencies", {}).values():
            # an extra counts only when some member asks for it; members' extras are small
            deps += [d for d in extra_deps if d["name"] in members]
        todo += [d["name"] for d in deps]
    return seen & members


def member_manifest(name: str) -> dict[str, Any]:
    path = workspace_members()[name] / "pyproject.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def member_modules(name: str) -> dict[str, Path]:
    """Top-level import name → its source directory, for one member (hatch wheel packages)."""
    root = workspace_members()[name]
    packages = member_manifest(name)["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return {Path(p).name: root / p for p in packages}


def console_scripts(name: str) -> dict[str, str]:
    return dict(member_manifest(name)["project"].get("scripts", {}))
