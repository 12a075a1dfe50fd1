"""``python -m endorm.cli``: the ``endorm`` command."""

import sys

from . import main

sys.exit(main())
