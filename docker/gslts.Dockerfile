# syntax=docker/dockerfile:1
# The `gslts` command (gslts-cli, the composition root: it depends on every member), with
# two final stages:
#   simulator  `gslts sim` on :8002 (compose profile `sim`)
#   migrate    `gslts db upgrade`, the one-shot schema step before the servers start; also
#              the image for operator jobs: `docker compose run --rm migrate gslts db archive …`
# The simulator is reached only through `gslts sim` (the Kiwoom library reads no
# environment, by the house rules), so its image carries the CLI and so every member; a
# separate simulator.Dockerfile would be this file again.
#   docker build -f docker/gslts.Dockerfile --target simulator -t gslts-simulator .
#   docker build -f docker/gslts.Dockerfile --target migrate -t gslts-migrate .
# Checked without an engine: tests/unit/deploy and tests/integration/deploy (see hub.Dockerfile).

FROM python:3.11-slim-bookworm AS build
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never PYTHONDONTWRITEBYTECODE=1
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY backend/pyproject.toml backend/pyproject.toml
COPY backend/kiwoom/pyproject.toml backend/kiwoom/pyproject.toml
COPY backend/common/pyproject.toml backend/common/pyproject.toml
COPY backend/cli/pyproject.toml backend/cli/pyproject.toml
COPY database/pyproject.toml database/pyproject.toml
COPY sub-server/pyproject.toml sub-server/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package gslts-cli --no-install-workspace
COPY backend/kiwoom backend/kiwoom
COPY backend/common backend/common
COPY backend/gslts_backend backend/gslts_backend
COPY backend/cli backend/cli
COPY database database
COPY sub-server sub-server
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package gslts-cli
RUN .venv/bin/python -m compileall -q backend database sub-server

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH="/app/.venv/bin:$PATH" DATA_DIR=/data
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin gslts \
    && mkdir -p /data/archive && chown -R gslts:gslts /data
COPY --from=build /app /app
COPY docker/preflight.py docker/healthcheck.py /usr/local/lib/gslts/
WORKDIR /app
USER 10001:10001
ENTRYPOINT ["python", "/usr/local/lib/gslts/preflight.py"]

FROM runtime AS simulator
EXPOSE 8002
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/lib/gslts/healthcheck.py", "http://127.0.0.1:8002/_sim/state"]
CMD ["gslts", "sim", "--host", "0.0.0.0", "--port", "8002"]

FROM runtime AS migrate
# a one-shot job: compose waits for it to exit 0 (service_completed_successfully)
HEALTHCHECK NONE
CMD ["gslts", "db", "upgrade"]
