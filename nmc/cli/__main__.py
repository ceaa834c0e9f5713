"""python -m nmc.cli (same as python -m nmc and the `nmc` script)."""
import sys

from . import main

sys.exit(main())
