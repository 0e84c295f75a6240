"""``python -m gslts_backend``: the main server on its own (see :mod:`gslts_backend.main`)."""

import sys

from gslts_backend.main import main

sys.exit(main())
