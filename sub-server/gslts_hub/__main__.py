"""``python -m gslts_hub``: the hub on its own (see :mod:`gslts_hub.main`)."""

import sys

from gslts_hub.main import main

sys.exit(main())
