"""``python -m tuxnet`` runs the ``tuxnet`` command."""

import sys

from tuxnet.cli import main

sys.exit(main())
