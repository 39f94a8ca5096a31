"""`python -m ppio_txt2img`: the `ppio` command."""

from .cli import main

raise SystemExit(main())
