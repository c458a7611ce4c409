"""Packaging metadata: the SPDX license and its file, and the declared range that CI tests."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = PYPROJECT["project"]
OLDEST = ROOT / "scripts" / "oldest-constraints.txt"


def lower_bound(requirement: Requirement) -> Version:
    bounds = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert len(bounds) == 1, f"{requirement}: declare one lower bound (>=)"
    return bounds[0]


def runtime_requirements() -> list[Requirement]:
    """The dependencies and the emulator extra (the dev and browser extras are tools)."""
    declared = PROJECT["dependencies"] + PROJECT["optional-dependencies"]["emulator"]
    return [Requirement(text) for text in declared]


def oldest_pins() -> dict[str, Version]:
    pins = {}
    for line in OLDEST.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip()] = Version(version.strip().removesuffix(".*"))
    return pins


def test_the_license_is_an_spdx_expression_with_its_file_shipped() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    # PEP 639: no License :: classifiers beside an SPDX expression.
    assert not [c for c in PROJECT.get("classifiers", []) if c.startswith("License ::")]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the fs_pandas authors" in text


def test_the_build_backend_understands_spdx_license_expressions() -> None:
    # setuptools reads `license = "MIT"` and `license-files` from 77 on.
    (setuptools,) = [
        Requirement(r) for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")
    ]
    assert lower_bound(setuptools) >= Version("77")


def test_numpy_is_declared_since_fs_pandas_imports_it() -> None:
    numpy = [r for r in runtime_requirements() if r.name == "numpy"]
    assert numpy, "numpy is imported directly: declare it"
    assert lower_bound(numpy[0]) == Version("1.26")


@pytest.mark.parametrize("requirement", runtime_requirements(), ids=str)
def test_ci_tests_the_declared_lower_bound(requirement: Requirement) -> None:
    """scripts/oldest-constraints.txt pins each runtime dependency at its declared minimum."""
    pins = oldest_pins()
    assert requirement.name in pins, f"pin {requirement.name} in {OLDEST.name}"
    assert pins[requirement.name] == lower_bound(requirement)


def test_the_oldest_pins_are_all_declared() -> None:
    assert set(oldest_pins()) == {r.name for r in runtime_requirements()}


def test_the_code_and_the_metadata_give_one_version() -> None:
    import fs_pandas

    assert fs_pandas.__version__ == PROJECT["version"]
