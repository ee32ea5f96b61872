import sys

from sepmon.cli import main

sys.exit(main())
