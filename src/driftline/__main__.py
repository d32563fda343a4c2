"""``python -m driftline``: the command line, the same as ``driftline``."""

import sys

from driftline.cli import main

if __name__ == "__main__":
    sys.exit(main())
