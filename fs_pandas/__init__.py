"""fs_pandas: push pandas DataFrames into Fullstory through the Server API v2 batch jobs.

Importing the package registers the ``df.fullstory`` accessor::

    import fs_pandas
    result = df.fullstory.batch_update(uid_col="user_id")
    result.errors.to_parquet("errors.parquet")

The local emulator of the API lives in :mod:`fs_pandas.emulator` (install the ``emulator``
extra). The exceptions and warnings of :mod:`fs_pandas.errors` are importable from here too
(``except fs_pandas.RateLimitedError``).
"""

# No ``from __future__ import annotations`` here: it would bind the public name ``annotations``
# in the package (tests/test_exported_members.py holds every public name to ``__all__``).

from fs_pandas import accessor as _accessor  # registers df.fullstory
from fs_pandas._version import __version__
from fs_pandas.client import Client
from fs_pandas.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ColumnWarning,
    ConfigurationError,
    ConflictError,
    DuplicateJobWarning,
    ExpiredKeysWarning,
    FullstoryError,
    IdempotencyConflictError,
    InvalidDataError,
    LedgerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ReconciliationWarning,
    RetryExhaustedError,
    RowsNotImportedError,
    RunInterrupted,
    ServerError,
    TransportError,
)
from fs_pandas.retry import RetryPolicy
from fs_pandas.run import RunHandle, resume
from fs_pandas.run.ledger import runs
from fs_pandas.run.result import BatchResult

del _accessor

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "BatchResult",
    "Client",
    "ColumnWarning",
    "ConfigurationError",
    "ConflictError",
    "DuplicateJobWarning",
    "ExpiredKeysWarning",
    "FullstoryError",
    "IdempotencyConflictError",
    "InvalidDataError",
    "LedgerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ReconciliationWarning",
    "RetryExhaustedError",
    "RetryPolicy",
    "RowsNotImportedError",
    "RunHandle",
    "RunInterrupted",
    "ServerError",
    "TransportError",
    "__version__",
    "resume",
    "runs",
]
