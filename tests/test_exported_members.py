"""The public namespace is small on purpose: adding a name to it is a decision, made here."""

import inspect
import types

import fs_pandas
import fs_pandas.errors


def test_public_names_are_exactly_these() -> None:
    assert fs_pandas.__all__ == [
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


def test_all_is_sorted_and_every_name_exists() -> None:
    assert fs_pandas.__all__ == sorted(fs_pandas.__all__)
    for name in fs_pandas.__all__:
        assert hasattr(fs_pandas, name), name


def test_every_public_name_bound_in_the_package_is_in_all() -> None:
    # Submodules are bound in the package as a side effect of importing them: not exports.
    bound = {
        name
        for name, value in vars(fs_pandas).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert bound == set(fs_pandas.__all__) - {"__version__"}


def test_every_public_class_of_the_errors_module_is_exported() -> None:
    # Users catch these; they must not have to know which module defines them.
    classes = {
        name
        for name, value in vars(fs_pandas.errors).items()
        if inspect.isclass(value)
        and value.__module__ == fs_pandas.errors.__name__
        and not name.startswith("_")
    }
    assert classes == set(fs_pandas.errors.__all__)
    for name in classes:
        assert getattr(fs_pandas, name) is getattr(fs_pandas.errors, name), name


def test_importing_registers_the_dataframe_accessor() -> None:
    import pandas as pd

    assert hasattr(pd.DataFrame({"a": [1]}), "fullstory")
