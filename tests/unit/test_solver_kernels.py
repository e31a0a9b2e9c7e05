"""The compiled output kernel equals the numpy path (uniform and irregular output grids)."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.solver import kernels


@pytest.mark.parametrize("uniform", [True, False])
def test_compiled_kernel_matches_numpy(uniform: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    N, T, n, m = 300, 1000, 4, 2
    lam = -rng.uniform(0.001, 8.0, (N, n))
    a = rng.normal(size=(N, m, n))
    b = rng.normal(size=(N, m))
    dt = np.linspace(0.0, 300.0, T) if uniform else np.sort(rng.uniform(0.0, 300.0, T))
    sel = np.arange(T)
    fast = np.zeros((N, T, m))
    monkeypatch.setattr(kernels, "_NUMBA_LOAD_WORK", 0)
    kernels.sum_of_exponentials(lam, a, b, dt, sel, fast)
    assert kernels._KERNEL and kernels._KERNEL[0] is not None  # the compiled path ran
    monkeypatch.setattr(kernels, "_NUMBA_MIN_WORK", 10**12)
    slow = np.zeros((N, T, m))
    kernels.sum_of_exponentials(lam, a, b, dt, sel, slow)
    scale = np.max(np.abs(slow))
    # 64 multiplications between exact anchors: round-off well below 1e-12 of the scale
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12 * scale)
