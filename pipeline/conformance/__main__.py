"""``python -m pipeline.conformance``: see :mod:`pipeline.conformance`."""

import sys

from pipeline.conformance import main

sys.exit(main())
