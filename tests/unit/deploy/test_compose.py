"""docker-compose.yml: valid under the Compose Specification, and wired the way the
services need (health-gated start order, named volumes, ports, the `sim` profile, every
variable documented). No container engine: the file is read, interpolated as Compose
does (tests/unit/deploy/deploy_files.py) and checked against the images' Dockerfiles."""

from __future__ import annotations

import copy
import json
import stat
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO_ROOT, need_import
from tests.unit.deploy import deploy_files as d

need_import("jsonschema_rs", "the dev dependencies (`make setup`; schemathesis brings it)")
import jsonschema_rs  # noqa: E402

#: the one dependency that waits for a start, not for health (its comment says why)
STARTED_ONLY = {("backend", "sub-server")}
#: long-running services and the port each serves on (host and container)
PORTS = {"backend": 8000, "sub-server": 8001, "simulator": 8002}


def schema_errors(doc: dict[str, Any]) -> list[str]:
    schema = json.loads(d.COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema_rs.Draft7Validator(schema)
    errors = validator.iter_errors(doc)
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in errors]


def env_example(**overrides: str) -> dict[str, str]:
    return {**d.dotenv(d.ENV_EXAMPLE), **overrides}


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"KIWOOM_MODE": "mock", "COMPOSE_PROFILES": "", "MYSQL_PASSWORD": "0123456789abcdef"},
        {"BACKEND_PUBLISH_ADDR": "0.0.0.0", "HUB_ALLOWED_HOSTS": "hub.example.org"},  # noqa: S104
    ],
    ids=["sim", "mock", "published"],
)
def test_the_file_validates_against_the_compose_specification(overrides: dict[str, str]) -> None:
    errors = schema_errors(d.compose(env_example(**overrides)))
    assert not errors, "\n".join(errors)


def test_the_validator_rejects_what_compose_rejects() -> None:
    """The schema check is live: a wrong condition, unknown keys and wrong types fail."""
    good = d.compose()
    for path, value in (
        (("services", "backend", "depends_on", "mysql", "condition"), "healthy"),
        (("services", "backend", "restrat"), "always"),
        (("services", "redis", "healthcheck", "tset"), ["CMD", "true"]),
        (("volumes", "mysql-data"), {"drivr": "local"}),
        (("services", "backend", "depends_on"), "mysql"),
        (("services", "migrate", "restart"), False),
    ):
        broken = copy.deepcopy(good)
        node = broken
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        assert schema_errors(broken), f"{'/'.join(path)} = {value!r} passed the schema"


def test_without_an_env_file_compose_refuses_to_start() -> None:
    """No .env: MYSQL_PASSWORD is required (`cp .env.example .env` is the first step)."""
    with pytest.raises(d.InterpolationError, match="MYSQL_PASSWORD"):
        d.compose({})


def test_every_variable_compose_reads_is_documented_in_env_example() -> None:
    documented = set(d.dotenv(d.ENV_EXAMPLE))
    used = d.compose_variables() | {"COMPOSE_PROFILES"}
    assert not used - documented, f".env.example does not document {sorted(used - documented)}"


def test_the_simulator_is_a_profile_that_is_on_by_default() -> None:
    c = d.compose()
    assert c["services"]["simulator"]["profiles"] == ["sim"]
    env = d.dotenv(d.ENV_EXAMPLE)
    assert "sim" in env["COMPOSE_PROFILES"].split(","), "COMPOSE_PROFILES must default to sim"
    assert env["KIWOOM_MODE"] == "sim"
    for name, svc in c["services"].items():
        if "simulator" in (svc.get("depends_on") or {}):
            dep = svc["depends_on"]["simulator"]
            assert dep.get("required") is False, f"{name} needs the simulator in mock/real too"
    # only the simulator is optional: everything else runs in every mode
    assert [n for n, s in c["services"].items() if s.get("profiles")] == ["simulator"]


def _image_stage(svc: dict[str, Any]) -> d.Stage | None:
    build = svc.get("build")
    if not build:
        return None
    return d.dockerfile(REPO_ROOT / build["dockerfile"]).stage(build.get("target"))


def _has_healthcheck(svc: dict[str, Any]) -> bool:
    if svc.get("healthcheck"):
        return not svc["healthcheck"].get("disable", False)
    stage = _image_stage(svc)
    return bool(stage and stage.inherited("healthcheck"))


def test_every_start_waits_for_health_or_completion() -> None:
    services = d.compose()["services"]
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert isinstance(spec, dict), f"{name} -> {dep}: give a condition"
            cond = spec["condition"]
            target = services[dep]
            if cond == "service_healthy":
                assert _has_healthcheck(target), f"{name} waits for {dep}, which has no check"
            elif cond == "service_completed_successfully":
                assert target.get("restart") == "no", f"{dep} is not a one-shot"
            else:
                assert (name, dep) in STARTED_ONLY, f"{name} -> {dep}: {cond} is not health"
    # the servers start after the schema is migrated and the stores answer
    for name in ("sub-server", "backend"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["mysql"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["mysql"]["condition"] == "service_healthy"


def test_long_running_services_restart_and_have_a_health_check() -> None:
    for name, svc in d.compose()["services"].items():
        if name == "migrate":
            assert svc["restart"] == "no"
            continue
        assert svc.get("restart") in ("unless-stopped", "always"), name
        assert _has_healthcheck(svc), f"{name} has no health check"


def test_every_service_rotates_its_logs() -> None:
    for name, svc in d.compose()["services"].items():
        options = svc.get("logging", {}).get("options", {})
        assert options.get("max-size"), f"{name}: json-file logs would grow without end"
        assert options.get("max-file"), name


def test_state_lives_in_named_volumes() -> None:
    c = d.compose()
    declared = set(c["volumes"])
    used: set[str] = set()
    for name, svc in c["services"].items():
        for v in svc.get("volumes", []):
            source = v.split(":")[0]
            if source.startswith("."):
                assert (REPO_ROOT / source).is_file(), f"{name} mounts missing {source}"
                continue
            assert source in declared, f"{name} uses undeclared volume {source}"
            used.add(source)
    assert used == declared, f"declared, never used: {sorted(declared - used)}"
    mounts = {svc: dict(v.split(":")[1::-1] for v in s.get("volumes", [])) for svc, s in
              c["services"].items()}  # fmt: skip
    assert mounts["mysql"]["/var/lib/mysql"] == "mysql-data"
    # the hub's journal is DATA_DIR/journal (HUB_JOURNAL_DIR empty): DATA_DIR is a volume
    hub_env = d.service_environment(c["services"]["sub-server"], d.dotenv(d.ENV_EXAMPLE))
    assert not hub_env.get("HUB_JOURNAL_DIR"), "the journal would leave the volume"
    assert mounts["sub-server"][hub_env["DATA_DIR"]] == "hub-data"
    backend_env = d.service_environment(c["services"]["backend"], d.dotenv(d.ENV_EXAMPLE))
    assert backend_env["DATA_DIR"] in mounts["backend"]
    # `gslts db archive` writes DATA_DIR/archive of the migrate container
    migrate_env = d.service_environment(c["services"]["migrate"], d.dotenv(d.ENV_EXAMPLE))
    assert mounts["migrate"][f"{migrate_env['DATA_DIR']}/archive"] == "archive"


def test_the_mysql_settings_file_is_mounted_readable_and_not_world_writable() -> None:
    svc = d.compose()["services"]["mysql"]
    cnf = [v for v in svc["volumes"] if v.startswith("./docker/mysql/")]
    assert cnf, "docker/mysql/gslts.cnf is not mounted"
    source, target, mode = cnf[0].split(":")
    assert target.startswith("/etc/mysql/conf.d/")
    assert target.endswith(".cnf")
    assert mode == "ro"
    # mysqld ignores a world-writable option file (with a warning nobody reads)
    assert not (REPO_ROOT / source).stat().st_mode & stat.S_IWOTH


def test_ports_match_the_commands_and_the_images() -> None:
    services = d.compose()["services"]
    for name, port in PORTS.items():
        svc = services[name]
        (mapping,) = svc["ports"]
        host_addr, host_port, container_port = mapping.split(":")
        assert int(host_port) == int(container_port) == port, mapping
        # no login on the hub's API and the simulator: this machine only
        if name != "backend":
            assert host_addr == "127.0.0.1", f"{name} published beyond loopback"
        stage = _image_stage(svc)
        assert stage is not None
        assert port in stage.inherited("expose"), f"{name}: image does not EXPOSE {port}"
        command = svc.get("command") or stage.inherited("cmd")
        assert command[command.index("--port") + 1] == str(port)
        assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - in its container
        health = " ".join(stage.inherited("healthcheck"))
        assert f"127.0.0.1:{port}/" in health, f"{name}: health check on another port"
    env = d.dotenv(d.ENV_EXAMPLE)
    assert env["BACKEND_PUBLISH_ADDR"] == "127.0.0.1"


def test_the_services_find_each_other_by_service_name() -> None:
    c = d.compose()
    services = c["services"]
    mysql_env = services["mysql"]["environment"]
    for name in ("migrate", "sub-server", "backend"):
        env = d.service_environment(services[name], d.dotenv(d.ENV_EXAMPLE))
        db = urlsplit(env["DATABASE_URL"])
        assert db.hostname == "mysql"
        assert db.port == 3306
        assert db.username == mysql_env["MYSQL_USER"]
        assert db.password == mysql_env["MYSQL_PASSWORD"]
        assert db.path.lstrip("/") == mysql_env["MYSQL_DATABASE"]
        assert urlsplit(env["REDIS_URL"]).hostname == "redis"
        assert env["SIM_HOST"] == "simulator"
        assert env["SIM_PORT"] == str(PORTS["simulator"])
    backend_env = d.service_environment(services["backend"], d.dotenv(d.ENV_EXAMPLE))
    hub_url = urlsplit(backend_env["HUB_URL"])
    assert hub_url.hostname == "sub-server"
    assert hub_url.port == PORTS["sub-server"]
    # the hub answers that Host name (its DNS-rebinding guard)
    hub_env = d.service_environment(services["sub-server"], d.dotenv(d.ENV_EXAMPLE))
    assert "sub-server" in hub_env["HUB_ALLOWED_HOSTS"].split(",")


def test_builds_name_existing_dockerfiles_and_stages_with_the_repo_as_context() -> None:
    for name, svc in d.compose()["services"].items():
        build = svc.get("build")
        if build is None:
            assert "image" in svc, name
            continue
        assert build["context"] == ".", f"{name}: the build context is the repo root"
        path = REPO_ROOT / build["dockerfile"]
        assert path.is_file(), f"{name}: {build['dockerfile']} does not exist"
        d.dockerfile(path).stage(build.get("target"))  # raises for an unknown target
    assert not (REPO_ROOT / "docker" / "python.Dockerfile").exists(), "the old one-for-all image"


def test_configuration_comes_from_env_file() -> None:
    for name, svc in d.compose()["services"].items():
        if svc.get("build") and name != "simulator":
            assert svc["env_file"] == ".env", name
    assert (REPO_ROOT / ".env.example").is_file()
