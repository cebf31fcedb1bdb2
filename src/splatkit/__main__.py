"""``python -m splatkit`` runs the command line."""

import sys

from splatkit.cli import main

sys.exit(main())
