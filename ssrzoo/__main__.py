"""``python -m ssrzoo`` (and ``torchrun -m ssrzoo train ...``) run the CLI."""

import sys

from .cli import main

sys.exit(main())
