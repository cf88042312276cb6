"""``python -m claimx_worker.testing.kafka``: see :mod:`claimx_worker.testing.kafka.cli`."""

import sys

from claimx_worker.testing.kafka.cli import main

sys.exit(main())
