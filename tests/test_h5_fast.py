"""The pure-Rust fast walk of Keras's HDF5 subset (src/h5/fast/) seen from Python, against h5py as
an independent oracle: for every good ``.h5``/``.weights.h5`` fixture and for many-dataset files
h5py writes (the benchmark's case B shape), ``_core.H5File`` lists exactly h5py's groups and
datasets, with h5py's shapes, dtypes, file offsets and bytes. (tests/h5_fast.rs compares the fast
walk with the libhdf5 walk itself, including every bad file.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kerasave import _core

h5py = pytest.importorskip("h5py")

DATA = Path(__file__).resolve().parent / "data"
FIXTURES = sorted(
    p
    for d in ("keras", "keras_zoo")
    for p in (DATA / d).rglob("*.h5")
    # A legacy .h5 of bfloat16 weights without the `dtype` attribute: unsupported whichever walk
    # lists it (tests/h5_fast.rs checks both give the same error).
    if p.is_file() and p.relative_to(DATA).as_posix() != "keras_zoo/k3_bf16.h5"
)


def h5py_tree(path: Path) -> tuple[list[str], dict[str, object]]:
    """Groups (``/`` first, depth-first in name order) and datasets of ``path`` as h5py sees them."""
    groups: list[str] = ["/"]
    datasets: dict[str, object] = {}
    with h5py.File(path, "r") as f:

        def walk(g: h5py.Group, prefix: str) -> None:
            for name in sorted(g.keys(), key=lambda s: s.encode()):
                obj = g[name]
                p = f"{prefix}/{name}" if prefix != "/" else f"/{name}"
                if isinstance(obj, h5py.Group):
                    groups.append(p)
                    walk(obj, p)
                else:
                    arr = obj[()] if obj.shape != () else np.asarray(obj[()])
                    datasets[p] = (tuple(obj.shape), arr, obj.id.get_offset())

        walk(f, "/")
    return groups, datasets


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: str(p.relative_to(DATA)))
def test_fixture_matches_h5py(path: Path) -> None:
    h5 = _core.H5File(str(path))
    groups, datasets = h5py_tree(path)
    assert h5.groups() == groups
    listed = [d["path"] if isinstance(d, dict) else d[0] for d in h5.datasets()]
    assert listed == list(datasets)
    for p, (shape, arr, offset) in datasets.items():
        assert tuple(h5.shape(p)) == shape, p
        got = h5.get(p, copy=True)
        if arr.dtype.kind in "fiub":
            assert got.dtype == arr.dtype, p
            np.testing.assert_array_equal(got, arr, err_msg=p)
        if h5.layout(p) == "contiguous" and offset is not None:
            assert h5.location(p)[0] == offset, p


@pytest.mark.parametrize("n", [1, 7, 1024])
def test_many_datasets_match_h5py(tmp_path: Path, n: int) -> None:
    path = tmp_path / "many.weights.h5"
    rng = np.random.default_rng(n)
    with h5py.File(path, "w") as f:
        for i in range(n):
            f.create_dataset(f"layers/dense_{i % 13}/vars/{i}", data=rng.standard_normal(4).astype("f4"))
        f.create_dataset("flags", data=np.array([True, False]))
        f.create_dataset("half", data=np.float16(1.5))
        f.create_group("layers/empty")
    h5 = _core.H5File(str(path))
    groups, datasets = h5py_tree(path)
    assert h5.groups() == groups
    assert len(h5.datasets()) == len(datasets) == n + 2
    for p, (shape, arr, offset) in datasets.items():
        assert h5.is_zero_copy(p), p
        assert h5.location(p)[0] == offset, p
        np.testing.assert_array_equal(h5.get(p), arr, err_msg=p)
