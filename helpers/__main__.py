"""`python -m helpers <command>` (see helpers.cli.main)."""

import sys

from helpers.cli.main import main

sys.exit(main())
