"""``python -m mialib.audit``: the same as the ``mialib audit`` command (:mod:`.cli`)."""

import sys

from .cli import main

sys.exit(main())
