"""``python -m sk_ulmfit``: the ``sk-ulmfit`` command line."""

import sys

from ._cli.parser import main

sys.exit(main())
