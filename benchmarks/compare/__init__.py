"""driftline against evidently, NannyML, river and scipy on the same streams (GitHub issue 4).

Entry point: ``python -m benchmarks.compare --mode quick|full`` (``make bench`` /
``make bench-full``). See docs/benchmarks.md for the method and the results.
"""

import os

# The peers phone home by default (NannyML: usage events to segment.io; evidently:
# iterative-telemetry). A benchmark sends nothing anywhere: switch both off before
# either is imported. NannyML checks for the variable's presence, evidently for DO_NOT_TRACK.
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ITERATIVE_DO_NOT_TRACK", "1")
