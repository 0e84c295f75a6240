"""The dashboard's speed in headless Chromium (issue #12's ``ui.*``), in ``make bench``.

The measurement lives beside the browser tests (``tests/e2e/browser/bench_ui.py``: what
each figure is and how it is taken); this module gives it the ``ui.`` namespace of the
results file. Needs the built dashboard (``make frontend``; ``make bench`` builds it) and
Debian's Chromium.
"""

from __future__ import annotations

from tests.e2e.browser import bench_ui


def run() -> dict[str, float]:
    return {f"ui.{k}": v for k, v in bench_ui.run().items()}
