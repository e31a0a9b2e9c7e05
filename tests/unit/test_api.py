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


def test_every_export_resolves_to_its_module_object() -> None:
    import importlib

    for name, module in ketasim._EXPORTS.items():
        assert getattr(ketasim, name) is getattr(importlib.import_module(module), name), name


def test_simulate_is_the_function_even_after_its_module_is_imported() -> None:
    import importlib

    module = importlib.import_module("ketasim.simulate")
    assert callable(ketasim.simulate) and ketasim.simulate is module.simulate


def test_all_lists_every_lazy_export() -> None:
    extra = {"DISCLAIMER", "simulate", "simulate_dataset", "simulate_regimen"}
    assert set(ketasim.__all__) == set(ketasim._EXPORTS) | extra
