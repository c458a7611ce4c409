"""The package version, in one place for the code (fs_pandas.__version__, ``fs-pandas
--version``); tests/test_packaging.py holds it equal to pyproject.toml's."""

__version__ = "0.1.0"
