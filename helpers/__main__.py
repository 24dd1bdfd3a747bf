import sys

from helpers.cli.main import main

sys.exit(main())
