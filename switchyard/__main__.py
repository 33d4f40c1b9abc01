"""`python -m switchyard` is the `switchyard` command."""

import sys

from switchyard.cli.main import main

sys.exit(main())
