"""`python -m colorization {colorize,evaluate,demo} ...`; see `colorization.cli`."""

import sys

from colorization.cli import main

if __name__ == "__main__":
    sys.exit(main())
