# syntax=docker/dockerfile:1
# The backend (main server, :8000) with the dashboard: the gslts-backend workspace member
# and what it declares (gslts-common, gslts-kiwoom, gslts-db); no hub, no CLI. The
# dashboard's static export is built in a node:20 stage and served by the backend itself
# at / (same origin as the API and /ws: no proxy, no CORS, one port; docs/operations.md).
#   docker build -f docker/backend.Dockerfile -t gslts-backend .   (context = the repo root)
# Checked without an engine: tests/unit/deploy and tests/integration/deploy (see hub.Dockerfile).

FROM node:20-bookworm-slim AS dashboard
ENV NEXT_TELEMETRY_DISABLED=1
WORKDIR /app/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY frontend ./
# next build: the static export in /app/frontend/out
RUN npm run build

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
    uv sync --frozen --no-dev --package gslts-backend --no-install-workspace
COPY backend/kiwoom backend/kiwoom
COPY backend/common backend/common
COPY backend/gslts_backend backend/gslts_backend
COPY database database
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package gslts-backend
RUN .venv/bin/python -m compileall -q backend database

FROM python:3.11-slim-bookworm AS backend
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH="/app/.venv/bin:$PATH" DATA_DIR=/data
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin gslts \
    && mkdir -p /data && chown gslts:gslts /data
COPY --from=build /app /app
# where gslts_backend.app.FRONTEND_DIR looks: <repo root>/frontend/out, the repo root being /app
COPY --from=dashboard /app/frontend/out /app/frontend/out
COPY docker/preflight.py docker/healthcheck.py /usr/local/lib/gslts/
WORKDIR /app
USER 10001:10001
# DATA_DIR: the sim-mode one-time admin password file, the token cache without Redis
VOLUME ["/data"]
EXPOSE 8000
# 200 while it serves (its body says "degraded" while it has no live data from the hub)
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/lib/gslts/healthcheck.py", "http://127.0.0.1:8000/api/health"]
ENTRYPOINT ["python", "/usr/local/lib/gslts/preflight.py"]
CMD ["python", "-m", "gslts_backend", "--host", "0.0.0.0", "--port", "8000"]
