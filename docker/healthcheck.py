"""HEALTHCHECK of the GSLTS images: exit 0 when the URL answers 2xx within the timeout.

``python /usr/local/lib/gslts/healthcheck.py URL [TIMEOUT_S]``. Otherwise exit 1 with one
line on stderr (Docker keeps it: ``docker inspect --format '{{json .State.Health}}'``):
the hub's 503 body names its reasons. Standard library only (slim images have no curl).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

DEFAULT_TIMEOUT_S = 4.0


def check(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> str | None:
    """None when healthy, else why not."""
    if not url.startswith(("http://", "https://")):
        return f"not an http(s) URL: {url!r}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - checked above
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode("utf-8", "replace")
        return f"HTTP {exc.code}: {body}"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if 200 <= status < 300 else f"HTTP {status}"


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: healthcheck.py URL [TIMEOUT_S]\n")
        return 2
    why = check(argv[0], float(argv[1]) if len(argv) > 1 else DEFAULT_TIMEOUT_S)
    if why:
        sys.stderr.write(f"unhealthy: {why}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
