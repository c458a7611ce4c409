"""fs_pandas: push pandas DataFrames into Fullstory through the Server API v2 batch jobs.

Importing the package registers the ``df.fullstory`` accessor.
"""

from __future__ import annotations

from fs_pandas.errors import FullstoryError

__version__ = "0.1.0"

__all__ = ["FullstoryError", "__version__"]
