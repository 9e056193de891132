"""``python -m kerasave``: the same as the ``kerasave`` command."""

import sys

from kerasave.cli import main

sys.exit(main())
