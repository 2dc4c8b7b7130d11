"""`python -m colorization_apps {colorize,evaluate,demo} ...`: the `colorization` command."""

import sys

from colorization_apps.cli import main

if __name__ == "__main__":
    sys.exit(main())
