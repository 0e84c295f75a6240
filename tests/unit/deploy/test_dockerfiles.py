"""docker/*.Dockerfile: every copied path exists (and is sent in the context), each image
installs only its own workspace member and what it declares (from uv.lock), every
command and entrypoint a service runs exists in what its image installs, and the final
images are small, non-root and health-checked. Read from the files: no engine here."""

from __future__ import annotations

import contextlib
import io
import re
import tomllib
from pathlib import Path

import pytest

from gslts_backend import app as backend_app
from gslts_backend.app import FRONTEND_DIR
from gslts_cli.cli import build_parser
from tests.conftest import REPO_ROOT
from tests.unit.deploy import deploy_files as d

DOCKERFILES = d.dockerfiles()
#: image (Dockerfile, final stage) → the member it is for; nothing else of the services
IMAGES = {
    ("hub.Dockerfile", "hub"): "gslts-hub",
    ("backend.Dockerfile", "backend"): "gslts-backend",
    ("gslts.Dockerfile", "simulator"): "gslts-cli",
    ("gslts.Dockerfile", "migrate"): "gslts-cli",
}
#: members an image must not carry (another service: ARCHITECTURE, services stay apart)
FORBIDDEN = {
    "gslts-hub": {"gslts-backend", "gslts-cli"},
    "gslts-backend": {"gslts-hub", "gslts-cli"},
}


def _final(image: tuple[str, str]) -> tuple[d.Dockerfile, d.Stage]:
    df = DOCKERFILES[image[0]]
    return df, df.stage(image[1])


def test_the_images_are_the_ones_compose_builds() -> None:
    built = {
        (Path(s["build"]["dockerfile"]).name, s["build"].get("target"))
        for s in d.compose()["services"].values()
        if s.get("build")
    }
    resolved = {(f, t or DOCKERFILES[f].stages[-1].name) for f, t in built}
    assert resolved == set(IMAGES)


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_every_path_a_dockerfile_copies_exists_in_the_build_context(name: str) -> None:
    df = DOCKERFILES[name]
    stages = {s.name for s in df.stages}
    for stage in df.stages:
        for c in stage.copies:
            if c.from_stage:
                assert c.from_stage in stages, f"{name}: COPY --from={c.from_stage}: no such stage"
                continue
            for src in c.sources:
                assert not any(ch in src for ch in "*?["), f"{name}: globs hide a missing path"
                assert (REPO_ROOT / src).exists(), f"{name}: COPY {src}: no such path"
                assert not d.dockerignored(src), f"{name}: COPY {src} is in .dockerignore"


def test_the_dockerignore_keeps_secrets_and_local_state_out_of_every_image() -> None:
    for path in (
        ".env",
        ".venv/bin/python",
        "var/gslts.sqlite3",
        "frontend/node_modules/x",
        "backend/gslts_backend/__pycache__/app.cpython-311.pyc",
        ".git/config",
    ):
        assert d.dockerignored(path), f"{path} would be sent to the builder"
    for path in (".env.example", "backend/kiwoom/src/gslts_kiwoom/sim/data", "frontend/src"):
        assert not d.dockerignored(path), path


def test_the_ignore_matcher_is_live() -> None:
    assert d.dockerignored("a/b/__pycache__/c", ["**/__pycache__"])
    assert not d.dockerignored("a/b/c", ["**/__pycache__"])
    assert not d.dockerignored("docs/x.md", ["docs", "!docs/x.md"])


@pytest.mark.parametrize("image", sorted(IMAGES), ids=lambda i: f"{i[0]}:{i[1]}")
def test_each_image_installs_its_member_and_only_what_it_declares(image: tuple[str, str]) -> None:
    df, final = _final(image)
    build = df.build_stage(final)
    package = df.synced_package(build)
    assert package == IMAGES[image]
    for argv in df.uv_syncs(build):
        # the lock alone, no dev tools
        assert "--frozen" in argv, argv
        assert "--no-dev" in argv, argv
        assert "--all-packages" not in argv, argv
    closure = d.workspace_closure(package)
    assert not closure & FORBIDDEN.get(package, set()), f"{package} brings {closure}"
    members = d.workspace_members()
    copied = {c.sources[0].rstrip("/") for c in build.copies if not c.from_stage}
    # uv reads every member's manifest (the workspace), even to install one of them
    for member_dir in members.values():
        manifest = f"{member_dir.relative_to(REPO_ROOT)}/pyproject.toml"
        assert manifest in copied, f"{df.path.name}: {manifest} not copied"
    for rel in ("pyproject.toml", "uv.lock"):
        assert any(rel in c.sources for c in build.copies), f"{df.path.name}: {rel} not copied"
    # the sources of exactly the members it installs
    sources = {
        REPO_ROOT / s for c in build.copies if not c.from_stage for s in c.sources
        if (REPO_ROOT / s).is_dir()
    }  # fmt: skip
    for name in members:
        modules = d.member_modules(name).values()
        has_source = any(m == s or s in m.parents for m in modules for s in sources)
        if name in closure:
            assert has_source, f"{df.path.name}: installs {name} without its source"
        else:
            assert not has_source, f"{df.path.name}: copies {name}'s source, not installed"


@pytest.mark.parametrize("image", sorted(IMAGES), ids=lambda i: f"{i[0]}:{i[1]}")
def test_the_final_image_is_small_and_runs_as_a_user(image: tuple[str, str]) -> None:
    df, final = _final(image)
    build = df.build_stage(final)
    assert final is not build, "multi-stage: the image is not the build stage"
    # its own base, without uv or pip installs: only the built /app is copied in
    stage: d.Stage | None = final
    while stage is not None:
        assert not any("pip install" in r or "uv " in r for r in stage.runs), stage.runs
        stage = stage.parent
    assert any(c.from_stage == build.name and c.dest_path() == "/app" for c in final.all_copies())
    user = final.inherited("user")
    assert user, "no USER: it would run as root"
    assert user.split(":")[0] not in ("0", "root"), user
    assert user.split(":")[0].isdigit(), "a numeric uid (runAsNonRoot can check it)"


@pytest.mark.parametrize("image", sorted(IMAGES), ids=lambda i: f"{i[0]}:{i[1]}")
def test_health_checks_and_entrypoint_scripts_are_in_the_image(image: tuple[str, str]) -> None:
    _, final = _final(image)
    health = final.inherited("healthcheck")
    if image[1] == "migrate":
        assert health == [], "a one-shot job: HEALTHCHECK NONE"
    else:
        assert health, f"{image}: no HEALTHCHECK"
        assert health[0] == "python"
        options = (final if final.healthcheck else final.parent or final).healthcheck_options
        assert options.get("start-period"), "the first start migrates and warms up"
    entrypoint = final.inherited("entrypoint")
    assert entrypoint[0] == "python"
    in_image = {
        c.dest_path(s): REPO_ROOT / s for c in final.all_copies() if not c.from_stage
        for s in c.sources
    }  # fmt: skip
    for script in [entrypoint[1], *(health[1:2] if health else [])]:
        assert script in in_image, f"{script} is not copied into {image}"
        assert in_image[script].is_file()


def _parses(argv: list[str]) -> str | None:
    """None when ``gslts <argv>`` is a valid command line, else argparse's complaint."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(argv)
    except SystemExit:
        return err.getvalue() or "exit"
    return None


def command_problem(argv: list[str], members: set[str]) -> str | None:
    """Why ``argv`` cannot run in an environment of ``members``, or None."""
    if argv[:2] == ["python", "-m"]:
        module = argv[2]
        top = module.split(".")[0]
        for name in members:
            src = d.member_modules(name).get(top)
            if src is not None:
                path = src.joinpath(*module.split(".")[1:])
                return None if (path / "__main__.py").is_file() else f"{module} has no __main__"
        return f"no installed member provides {top}"
    scripts = {s: m for m in members for s in d.console_scripts(m)}
    if argv[0] not in scripts:
        return f"{argv[0]}: no console script of {sorted(members)}"
    if argv[0] == "gslts":
        return _parses(argv[1:])
    return None


def test_the_command_check_is_live() -> None:
    cli = d.workspace_closure("gslts-cli")
    assert command_problem(["gslts", "db", "upgrade"], cli) is None
    assert command_problem(["gslts", "db", "upgrayedd"], cli)
    assert command_problem(["gslts", "sim"], d.workspace_closure("gslts-hub"))
    assert command_problem(["python", "-m", "gslts_backend"], d.workspace_closure("gslts-hub"))
    assert command_problem(["python", "-m", "gslts_hub.nothing"], d.workspace_closure("gslts-hub"))


def test_every_command_a_service_runs_exists_in_its_image() -> None:
    """Compose's command (or the image's CMD), and what operators are told to run."""
    for name, svc in d.compose()["services"].items():
        build = svc.get("build")
        if not build:
            continue
        df = DOCKERFILES[Path(build["dockerfile"]).name]
        final = df.stage(build.get("target"))
        members = d.workspace_closure(df.synced_package(df.build_stage(final)))
        for argv in (svc.get("command"), final.inherited("cmd")):
            assert argv, f"{name}: nothing to run"
            problem = command_problem(argv, members)
            assert problem is None, f"{name}: {argv}: {problem}"
    migrate = d.workspace_closure("gslts-cli")
    for argv in (["gslts", "db", "archive", "--before", "2026-01-02"], ["gslts", "db", "current"],
                 ["gslts", "users", "list"], ["gslts", "kiwoom", "au10001"]):  # fmt: skip
        assert command_problem(argv, migrate) is None, argv


def test_the_dashboard_is_built_where_the_backend_serves_it_from() -> None:
    df = DOCKERFILES["backend.Dockerfile"]
    dashboard = df.stage("dashboard")
    assert dashboard.base.startswith("node:")
    node_major = int(re.match(r"node:(\d+)", dashboard.base).group(1))  # type: ignore[union-attr]
    wanted = (REPO_ROOT / "frontend" / "package.json").read_text(encoding="utf-8")
    need = int(re.search(r'"node":\s*">=(\d+)', wanted).group(1))  # type: ignore[union-attr]
    assert node_major >= need
    assert "npm ci" in " ".join(dashboard.runs)
    assert "npm run build" in dashboard.runs
    assert re.search(r'output:\s*"export"', (REPO_ROOT / "frontend/next.config.ts").read_text())
    (copy_out,) = [c for c in df.stage("backend").copies if c.from_stage == "dashboard"]
    assert copy_out.sources == [f"{dashboard.workdir}/out"]
    # the backend serves <repo root>/frontend/out, and the image's repo root is /app
    build = df.build_stage(df.stage("backend"))
    assert any("uv.lock" in c.sources and c.dest_path("uv.lock") == "/app/uv.lock"
               for c in build.copies)  # fmt: skip
    source_root = Path(backend_app.__file__).resolve().parents[2]  # the checkout it runs from
    assert copy_out.dest_path() == "/app/" + FRONTEND_DIR.relative_to(source_root).as_posix()


def test_versions_agree_with_the_repo() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    uv_version = re.search(r"^UV_VERSION := (\S+)", makefile, re.MULTILINE).group(1)  # type: ignore[union-attr]
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert root["project"]["requires-python"] == ">=3.11,<3.12"
    for name, df in DOCKERFILES.items():
        for stage in df.stages:
            if stage.parent is None and stage.base.startswith("python:"):
                assert stage.base.startswith("python:3.11-"), f"{name}: {stage.base}"
            for run in stage.runs:
                if "pip install" in run and "uv" in run:
                    assert f"uv=={uv_version}" in run, f"{name}: uv pinned to the Makefile's"
