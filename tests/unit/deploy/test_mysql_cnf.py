"""docker/mysql/gslts.cnf gives the schema and the writer what they rely on: InnoDB for the
partitioned tables, LOAD DATA LOCAL when (and only when) the writer uses it, packets for
its INSERT fallback, utf8mb4, per-table files for partition drops. mysqld itself never
reads the file here (no MySQL 8.4 on the build machines): see the README."""

from __future__ import annotations

import configparser
import inspect
import re

from gslts_db import engine as db_engine
from gslts_db import store
from gslts_db.models import PARTITIONED_TABLES
from tests.conftest import REPO_ROOT
from tests.unit.deploy import deploy_files as d

CNF = REPO_ROOT / "docker" / "mysql" / "gslts.cnf"
MIGRATIONS = REPO_ROOT / "database" / "gslts_db" / "migrations" / "versions"
_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30}


def settings() -> dict[str, str | None]:
    parser = configparser.ConfigParser(allow_no_value=True, interpolation=None, strict=True)
    parser.read_string(CNF.read_text(encoding="utf-8"))
    assert parser.sections() == ["mysqld"]
    # mysqld takes - and _ alike; compare one spelling
    return {k.replace("-", "_"): v for k, v in parser["mysqld"].items()}


def size(text: str | None) -> int:
    assert text
    m = re.fullmatch(r"(\d+)([KMG]?)", text.strip())
    assert m, text
    return int(m.group(1)) * _UNITS.get(m.group(2), 1)


def on(value: str | None) -> bool:
    return (value or "").strip().upper() in ("1", "ON", "TRUE")


def migrations_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(MIGRATIONS.glob("*.py")))


def test_partitioned_tables_get_innodb() -> None:
    text = migrations_text()
    assert "PARTITION BY RANGE" in text
    for table in PARTITIONED_TABLES:
        assert f'"{table}"' in text, f"{table} is not partitioned by the migrations"
    # every table the migrations make says InnoDB, and nothing defaults elsewhere
    assert '"mysql_engine": "InnoDB"' in text
    assert settings()["default_storage_engine"] == "InnoDB"
    assert on(settings()["innodb_file_per_table"]), "archive's DROP PARTITION frees no disk"


def test_local_infile_matches_the_writer() -> None:
    writer_loads = "LOAD DATA LOCAL INFILE" in inspect.getsource(store)
    offered = inspect.signature(db_engine.make_engine).parameters["local_infile"].default
    assert on(settings().get("local_infile")) == (writer_loads and offered is True), (
        "local_infile must be ON exactly when the writer bulk-loads with LOAD DATA LOCAL"
    )


def test_packets_hold_the_writers_statements() -> None:
    assert size(settings()["max_allowed_packet"]) >= 16 * store.MYSQL_STATEMENT_BYTES


def test_utf8mb4_as_the_migrations_declare() -> None:
    assert '"mysql_charset": "utf8mb4"' in migrations_text()
    assert settings()["character_set_server"] == "utf8mb4"
    assert (settings()["collation_server"] or "").startswith("utf8mb4_")


def test_durability_and_the_tuned_sizes() -> None:
    s = settings()
    # the hub's journal hands a batch over once the database acknowledged it: keep it
    assert s["innodb_flush_log_at_trx_commit"] == "1"
    assert size(s["innodb_redo_log_capacity"]) >= 2**30
    assert "innodb_log_file_size" not in s, "deprecated in 8.4: innodb_redo_log_capacity"
    assert size(s["innodb_buffer_pool_size"]) >= 2**30
    # compose's flag for the pool is the documented variable
    command = d.compose_raw()["services"]["mysql"]["command"]
    assert "--innodb-buffer-pool-size=${MYSQL_INNODB_BUFFER_POOL_SIZE:-1G}" in command
    assert d.dotenv(d.ENV_EXAMPLE)["MYSQL_INNODB_BUFFER_POOL_SIZE"] == "1G"


def test_the_image_is_the_mysql_8_the_file_is_written_for() -> None:
    image = d.compose()["services"]["mysql"]["image"]
    assert re.fullmatch(r"mysql:8\.4(\.\d+)?", image), image
