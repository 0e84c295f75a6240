"""``python -m gslts_cli`` = ``gslts``."""

import sys

from gslts_cli.cli import main

sys.exit(main())
