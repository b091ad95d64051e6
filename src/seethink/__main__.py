import sys

from seethink.cli import main

sys.exit(main())
