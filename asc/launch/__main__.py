"""`python -m asc.launch ...`: what utils/launch.sh runs (see asc.launch.cli)."""
import sys

from asc.launch.cli import main

sys.exit(main())
