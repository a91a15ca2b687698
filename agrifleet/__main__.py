import sys

from agrifleet.cli import main

sys.exit(main())
