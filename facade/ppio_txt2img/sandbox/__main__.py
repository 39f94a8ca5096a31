"""`python -m ppio_txt2img.sandbox`: the `ppio sandbox` command, standalone."""

import sys

from ._cli import main

sys.exit(main())
