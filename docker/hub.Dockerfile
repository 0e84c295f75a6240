# syntax=docker/dockerfile:1
# The sub-server (tick hub, :8001): the gslts-hub workspace member and what it declares
# (gslts-common, gslts-kiwoom, gslts-db and their locked dependencies); no backend, no CLI.
#   docker build -f docker/hub.Dockerfile -t gslts-hub .      (context = the repo root)
# Checked without an engine: tests/unit/deploy (paths, command, user, health check) and
# tests/integration/deploy (this install step from the lock, then the hub answers health).

FROM python:3.11-slim-bookworm AS build
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never PYTHONDONTWRITEBYTECODE=1
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
# The lock and every member's manifest (uv reads the whole workspace even to install one
# member): a dependency layer that a source change does not rebuild.
COPY pyproject.toml uv.lock ./
COPY backend/pyproject.toml backend/pyproject.toml
COPY backend/kiwoom/pyproject.toml backend/kiwoom/pyproject.toml
COPY backend/common/pyproject.toml backend/common/pyproject.toml
COPY backend/cli/pyproject.toml backend/cli/pyproject.toml
COPY database/pyproject.toml database/pyproject.toml
COPY sub-server/pyproject.toml sub-server/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package gslts-hub --no-install-workspace
# The sources of the members it installs, and nothing else.
COPY backend/kiwoom backend/kiwoom
COPY backend/common backend/common
COPY database database
COPY sub-server sub-server
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package gslts-hub
RUN .venv/bin/python -m compileall -q backend database sub-server

FROM python:3.11-slim-bookworm AS hub
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH="/app/.venv/bin:$PATH" DATA_DIR=/data
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin gslts \
    && mkdir -p /data && chown gslts:gslts /data
COPY --from=build /app /app
COPY docker/preflight.py docker/healthcheck.py /usr/local/lib/gslts/
WORKDIR /app
USER 10001:10001
# the tick journal (DATA_DIR/journal) and the open gaps: a named volume in compose
VOLUME ["/data"]
EXPOSE 8001
# 200 only when collecting as it should (journal, database, writer, Redis, socket)
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/lib/gslts/healthcheck.py", "http://127.0.0.1:8001/api/health"]
ENTRYPOINT ["python", "/usr/local/lib/gslts/preflight.py"]
CMD ["python", "-m", "gslts_hub", "--host", "0.0.0.0", "--port", "8001"]
