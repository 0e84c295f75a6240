"""GSLTS main server (FastAPI): orders, account, search, charts and the browser stream."""
