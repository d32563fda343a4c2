"""``python -m driftline.cli``."""

import sys

from driftline.cli import main

sys.exit(main())
