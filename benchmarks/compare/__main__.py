"""``python -m benchmarks.compare``: see ``run.py``."""

from benchmarks.compare.run import main

raise SystemExit(main())
