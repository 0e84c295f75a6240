"""Each image's package set resolves from the lock alone, and its services start from it.

For every Dockerfile the build stage is replayed without an engine: the paths it COPYs
from the context (minus .dockerignore) go into an empty directory, its own ``uv sync``
lines run there (``--frozen``: the lock alone; a missing member manifest or source fails
here as it would in ``docker build``), and the services then run from that environment
through the image's ENTRYPOINT (docker/preflight.py) and CMD, in the default simulator
mode on SQLite, until the image's own HEALTHCHECK command passes:

    migrate (gslts image)  `gslts db upgrade` exits 0
    simulator              `gslts sim`, health check on /_sim/state
    sub-server             `python -m gslts_hub` collecting from that simulator, /api/health 200
    backend                `python -m gslts_backend` following that hub, /api/health 200,
                           and the dashboard export at / when `make frontend` built it

What differs from a container: ports (free ones instead of 8000-8002, substituted in the
command and the health check URL), the interpreter (this machine's Python 3.11, not the
image's), and no MySQL/Redis (compose's; the services' SQLite/in-process defaults here).
Slow (three environments of ~100 packages from uv's cache): integration-marked.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, missing
from tests.e2e.harness import wait_for
from tests.unit.deploy import deploy_files as d

pytestmark = pytest.mark.integration

UV = Path(sys.executable).parent / "uv"
PREFLIGHT_IN_IMAGE = "/usr/local/lib/gslts/preflight.py"
HEALTH_IN_IMAGE = "/usr/local/lib/gslts/healthcheck.py"
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _copy_context(src_rel: str, dest: Path) -> None:
    """COPY one context path, leaving out what .dockerignore excludes."""
    src = REPO_ROOT / src_rel
    if src.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        return

    def ignore(directory: str, names: list[str]) -> set[str]:
        rel = Path(directory).relative_to(REPO_ROOT)
        return {n for n in names if d.dockerignored((rel / n).as_posix())}

    shutil.copytree(src, dest, ignore=ignore, dirs_exist_ok=True)


class Image:
    """One image's build stage replayed in ``root`` (which stands for the image's /)."""

    def __init__(self, dockerfile: str, target: str, root: Path) -> None:
        self.df = d.dockerfile(REPO_ROOT / "docker" / dockerfile)
        self.final = self.df.stage(target)
        self.build = self.df.build_stage(self.final)
        self.root = root

    def path(self, image_path: str) -> Path:
        return self.root / image_path.lstrip("/")

    def install(self) -> None:
        """The build stage's context COPYs and its uv sync lines, in file order."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
        env.update(self.build.env)  # the Dockerfile's ENV (UV_LINK_MODE, no downloads)
        env.pop("UV_COMPILE_BYTECODE", None)  # start-up speed in the image; time here
        env["UV_PYTHON"] = sys.executable  # the image's python3.11 is this one here
        workdir = self.path(self.build.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        for step in self.build.steps:
            if isinstance(step, d.Copy):
                assert step.from_stage is None, "the build stage copies from the context only"
                for src in step.sources:
                    _copy_context(src, self.path(step.dest_path(src)))
            elif step.startswith("uv sync"):
                result = subprocess.run(
                    [str(UV), *step.split()[1:]], cwd=workdir, env=env,
                    capture_output=True, text=True, timeout=600, check=False,
                )  # fmt: skip
                assert result.returncode == 0, f"{step}:\n{result.stderr[-3000:]}"
        # what the final stage copies from the context: the entrypoint and health scripts
        for c in self.final.all_copies():
            if c.from_stage is None:
                for src in c.sources:
                    _copy_context(src, self.path(c.dest_path(src)))

    @property
    def venv_bin(self) -> Path:
        return self.path(self.build.workdir) / ".venv" / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        """The image's ENV (PATH with the venv first), then the service's."""
        env = {"PATH": f"{self.venv_bin}:{os.environ.get('PATH', '')}", "HOME": str(self.root)}
        stage: d.Stage | None = self.final
        chain = []
        while stage is not None:
            chain.append(stage)
            stage = stage.parent
        for s in reversed(chain):
            env.update({k: v for k, v in s.env.items() if k != "PATH"})
        env.update(extra)
        return env

    def argv(self, command: list[str], port: int | None = None) -> list[str]:
        """ENTRYPOINT + command as the container runs them, on ``port``, loopback only."""
        entry = self.final.inherited("entrypoint")
        argv = [*entry, *command]
        argv = [str(self.path(a)) if a in (PREFLIGHT_IN_IMAGE, HEALTH_IN_IMAGE) else a
                for a in argv]  # fmt: skip
        if "--port" in argv and port is not None:
            argv[argv.index("--port") + 1] = str(port)
        if "--host" in argv:
            argv[argv.index("--host") + 1] = "127.0.0.1"
        argv[0] = str(self.venv_bin / argv[0]) if argv[0] == "python" else argv[0]
        return argv

    def healthcheck(self, port: int) -> list[str]:
        cmd = list(self.final.inherited("healthcheck"))
        url = cmd[2]
        default_port = url.split("127.0.0.1:", 1)[1].split("/", 1)[0]
        cmd[2] = url.replace(f"127.0.0.1:{default_port}/", f"127.0.0.1:{port}/")
        cmd[0] = str(self.venv_bin / "python")
        cmd[1] = str(self.path(cmd[1]))
        return cmd


def _importable(image: Image, *modules: str) -> list[str]:
    python = image.venv_bin / "python"
    found = []
    for module in modules:
        code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
        if subprocess.run([str(python), "-c", code], check=False, timeout=60).returncode == 0:
            found.append(module)
    return found


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Image]:
    if not UV.exists():
        missing(f"uv not installed at {UV} (make setup)")
    built = {}
    for key, dockerfile, target in (
        ("gslts", "gslts.Dockerfile", "simulator"),
        ("hub", "hub.Dockerfile", "hub"),
        ("backend", "backend.Dockerfile", "backend"),
    ):
        image = Image(dockerfile, target, tmp_path_factory.mktemp(key))
        image.install()
        built[key] = image
    return built


class Service:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=log.open("wb"), stderr=subprocess.STDOUT
        )

    def wait_healthy(self, check: list[str], env: dict[str, str]) -> None:
        def healthy() -> bool:
            if self.proc.poll() is not None:
                return True  # stop waiting: it died
            result = subprocess.run(check, env=env, capture_output=True, timeout=30, check=False)
            return result.returncode == 0

        assert wait_for(healthy, START_TIMEOUT_S, poll=0.5), self.tail()
        assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.tail()}"

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="module")
def stack(images: dict[str, Image], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """migrate → simulator → hub → backend, from their images' environments."""
    compose = d.compose()["services"]
    data = tmp_path_factory.mktemp("data")
    common = {"KIWOOM_MODE": "sim", "DATA_DIR": str(data), "LOG_LEVEL": "INFO"}
    ports = {"simulator": free_port(), "sub-server": free_port(), "backend": free_port()}
    services: list[Service] = []
    try:
        cli = images["gslts"]
        migrate = Image("gslts.Dockerfile", "migrate", cli.root)  # same build stage
        result = subprocess.run(
            migrate.argv(compose["migrate"]["command"]), env=migrate.env(**common),
            cwd=data, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr

        sim_env = cli.env(**common)
        sim = Service(cli.argv(compose["simulator"]["command"], ports["simulator"]), sim_env,
                      data, data / "simulator.log")  # fmt: skip
        services.append(sim)
        sim.wait_healthy(cli.healthcheck(ports["simulator"]), sim_env)

        hub_image = images["hub"]
        hub_env = hub_image.env(**common, SIM_HOST="127.0.0.1", SIM_PORT=str(ports["simulator"]))
        hub = Service(hub_image.argv(compose["sub-server"]["command"], ports["sub-server"]),
                      hub_env, data, data / "hub.log")  # fmt: skip
        services.append(hub)
        hub.wait_healthy(hub_image.healthcheck(ports["sub-server"]), hub_env)

        be_image = images["backend"]
        be_env = be_image.env(**common, SIM_HOST="127.0.0.1", SIM_PORT=str(ports["simulator"]),
                              HUB_URL=f"http://127.0.0.1:{ports['sub-server']}")  # fmt: skip
        frontend_out = REPO_ROOT / "frontend" / "out"
        if (frontend_out / "index.html").is_file():  # COPY --from=dashboard, as built by make
            (to,) = [c for c in be_image.final.copies if c.from_stage == "dashboard"]
            shutil.copytree(frontend_out, be_image.path(to.dest_path()))
        backend = Service(be_image.argv(compose["backend"]["command"], ports["backend"]),
                          be_env, data, data / "backend.log")  # fmt: skip
        services.append(backend)
        backend.wait_healthy(be_image.healthcheck(ports["backend"]), be_env)
        yield {"ports": ports, "data": data, "images": images}
    finally:
        for service in reversed(services):
            service.stop()


def test_each_image_holds_only_its_own_service(images: dict[str, Image]) -> None:
    assert _importable(images["hub"], "gslts_backend", "gslts_cli") == []
    assert _importable(images["backend"], "gslts_hub", "gslts_cli") == []
    assert _importable(images["gslts"], "gslts_hub", "gslts_backend", "gslts_kiwoom") == [
        "gslts_hub", "gslts_backend", "gslts_kiwoom",
    ]  # fmt: skip
    # no dev tools in any of them
    for image in images.values():
        assert _importable(image, "pytest", "mypy", "ruff") == []


def test_the_stack_starts_and_answers_its_health_checks(stack: dict) -> None:
    ports = stack["ports"]
    hub = httpx.get(f"http://127.0.0.1:{ports['sub-server']}/api/health", timeout=10)
    assert hub.status_code == 200, hub.text
    backend = httpx.get(f"http://127.0.0.1:{ports['backend']}/api/health", timeout=10)
    assert backend.status_code == 200
    assert backend.json()["mode"] == "sim"
    # migrate made the schema the servers use (SQLite under DATA_DIR here)
    assert (stack["data"] / "gslts.sqlite3").is_file()


def test_the_backend_image_serves_the_dashboard(stack: dict) -> None:
    if not (REPO_ROOT / "frontend" / "out" / "index.html").is_file():
        missing("frontend/out not built (`make frontend`; `make test` builds it first)")
    page = httpx.get(f"http://127.0.0.1:{stack['ports']['backend']}/", timeout=10)
    assert page.status_code == 200
    assert "<html" in page.text.lower()


def test_the_migrate_image_runs_the_operator_commands(stack: dict) -> None:
    cli = stack["images"]["gslts"]
    migrate = Image("gslts.Dockerfile", "migrate", cli.root)
    env = migrate.env(KIWOOM_MODE="sim", DATA_DIR=str(stack["data"]))
    for command in (["gslts", "db", "current"], ["gslts", "users", "list"]):
        result = subprocess.run(
            migrate.argv(command), env=env, cwd=stack["data"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"


def test_outside_sim_the_images_refuse_the_development_password(
    images: dict[str, Image], tmp_path: Path
) -> None:
    """The stack's first step (migrate) and the servers stop at the entrypoint."""
    compose = d.compose()["services"]
    env = {"KIWOOM_MODE": "mock", "DATA_DIR": str(tmp_path)}
    env["DATABASE_URL"] = compose["migrate"]["environment"]["DATABASE_URL"]  # .env.example's
    migrate = Image("gslts.Dockerfile", "migrate", images["gslts"].root)
    for image, command in (
        (migrate, compose["migrate"]["command"]),
        (images["hub"], compose["sub-server"]["command"]),
        (images["backend"], compose["backend"]["command"]),
    ):
        result = subprocess.run(
            image.argv(command, free_port()), env=image.env(**env), cwd=tmp_path,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 78, f"{command}: {result.stdout}{result.stderr}"
        assert "DATABASE_URL" in result.stderr
