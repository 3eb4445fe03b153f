"""``python -m ridelines COMMAND``: the command line lives in the laptop-only ``ridelines_local``."""

import sys

from ridelines_local.cli import main

if __name__ == "__main__":
    sys.exit(main())
