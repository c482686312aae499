"""Helpers for spec tests: write a spec text to a file and read it, collecting problems."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tenantctl.spec.model import TenantSet
from tenantctl.spec.problems import SpecError
from tenantctl.spec.reading import read_tenantset


@pytest.fixture
def problems_in(tmp_path: Path) -> Callable[[str], list[str]]:
    """The problems reported for a spec text, as ``LINE:COL: path: message (hint)``."""

    def read(text: str) -> list[str]:
        spec = tmp_path / "tenants.yaml"
        spec.write_text(textwrap.dedent(text))
        try:
            read_tenantset(spec)
        except SpecError as err:
            prefix = f"{spec}:"
            assert all(str(p).startswith(prefix) for p in err.problems)
            return [str(p)[len(prefix) :] for p in err.problems]
        return []

    return read


@pytest.fixture
def tenantset_of(tmp_path: Path) -> Callable[[str], TenantSet]:
    def read(text: str) -> TenantSet:
        spec = tmp_path / "tenants.yaml"
        spec.write_text(textwrap.dedent(text))
        return read_tenantset(spec)

    return read
