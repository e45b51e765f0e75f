"""``python -m sk_ulmfit.pretrain`` (and ``torchrun -m sk_ulmfit.pretrain``): the pretraining command."""

import sys

from ._run import main

sys.exit(main())
