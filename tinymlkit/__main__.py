"""``python -m tinymlkit ...`` runs the command-line interface (same as the ``tinymlkit`` command)."""

import sys

from .cli import main

sys.exit(main())
