"""`python -m colorization {colorize,evaluate,demo} ...`; see `colorization_apps.cli`."""

import sys

from colorization_apps.cli import main

if __name__ == "__main__":
    sys.exit(main())
