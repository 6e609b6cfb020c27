"""``python -m tests.chaos``: the chaos run (see ``tests.chaos.driver``)."""

import sys

from tests.chaos.driver import main

sys.exit(main())
