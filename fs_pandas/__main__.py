"""``python -m fs_pandas``: the same as the ``fs-pandas`` command."""

import sys

from fs_pandas.cli import main

sys.exit(main())
