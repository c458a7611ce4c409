"""The public namespace is small on purpose: adding a name to it is a decision, made here."""

import fs_pandas


def test_public_names_are_exactly_these() -> None:
    assert fs_pandas.__all__ == [
        "BatchResult",
        "Client",
        "FullstoryError",
        "RetryPolicy",
        "RunHandle",
        "__version__",
        "resume",
        "runs",
    ]


def test_all_is_sorted_and_every_name_exists() -> None:
    assert fs_pandas.__all__ == sorted(fs_pandas.__all__)
    for name in fs_pandas.__all__:
        assert hasattr(fs_pandas, name), name


def test_importing_registers_the_dataframe_accessor() -> None:
    import pandas as pd

    assert hasattr(pd.DataFrame({"a": [1]}), "fullstory")
