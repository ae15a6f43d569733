"""`python -m mockserver.specgen generate` works without the rest of the CLI installed."""

import sys

from mockserver.specgen.command import main

sys.exit(main())
