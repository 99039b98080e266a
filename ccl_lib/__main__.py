"""``python -m ccl_lib ...``: the command line of :mod:`ccl_lib.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
