# One image for every Python service of the workspace (simulator, sub-server, backend):
# they share the Kiwoom library and the database package, so one locked install serves all.
# Build context = repo root:  docker build -f docker/python.Dockerfile .
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
# Dependency layer first: changes to source code do not reinstall packages.
COPY pyproject.toml uv.lock ./
COPY backend/kiwoom/pyproject.toml backend/kiwoom/pyproject.toml
COPY backend/pyproject.toml backend/pyproject.toml
COPY database/pyproject.toml database/pyproject.toml
COPY sub-server/pyproject.toml sub-server/pyproject.toml
COPY backend backend
COPY database database
COPY sub-server sub-server
RUN uv sync --frozen --no-dev --all-packages
ENV PATH="/app/.venv/bin:$PATH" DATA_DIR=/data
RUN useradd --create-home --uid 10001 gslts && mkdir -p /data && chown gslts /data
USER gslts
VOLUME ["/data"]
CMD ["gslts", "run"]
