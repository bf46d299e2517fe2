"""`python -m devstack` (what `make run` calls)."""

import sys

from devstack.supervisor import main

sys.exit(main())
