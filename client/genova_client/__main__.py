"""``python -m genova_client``: the ``genova`` command line."""

import sys

from genova_client.cli import main

sys.exit(main())
