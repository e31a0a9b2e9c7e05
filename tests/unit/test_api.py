"""The public API: ``ketasim.__all__`` is sorted, complete and importable."""

from __future__ import annotations

import ketasim


def test_all_is_sorted_and_unique() -> None:
    names = list(ketasim.__all__)
    assert names == sorted(names)
    assert len(names) == len(set(names))


def test_all_names_exist_and_are_public() -> None:
    for name in ketasim.__all__:
        assert not name.startswith("_")
        assert hasattr(ketasim, name), name


def test_disclaimer_is_research_only() -> None:
    assert "research and education" in ketasim.DISCLAIMER
