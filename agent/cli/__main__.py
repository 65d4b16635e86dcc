"""`python -m agent.cli` runs the same entry point as the console script."""

import sys

from agent.cli import main

sys.exit(main())
