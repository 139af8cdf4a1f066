"""`python -m bench [--quick] [--only a,b] [--runs N] [--out DIR] [--memory-minutes M]`."""

import sys

from bench.runner import main

if __name__ == "__main__":
    sys.exit(main())
