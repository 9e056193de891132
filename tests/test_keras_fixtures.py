"""kerasave against HDF5 / ``.keras`` files written by real Keras 3.15.1 and tf_keras 2.21
(tests/data/keras, see its README).

No TensorFlow import: what h5py, zipfile and Keras saw when the fixtures were made is stored in
each case's expected.json. Every tensor is compared bit-exactly (sha256 of its bytes); contiguous
datasets must be zero-copy views of the file's memory map at the offset h5py reported (inside a
``.keras``: the member's data offset plus the offset inside the member).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kerasave as ks
from kerasave import _core
from kerasave._h5layout import natural_key

HERE = Path(__file__).resolve().parent
KERAS_DIR = HERE / "data" / "keras"
_CHUNK = re.compile(r"^(layer_names|weight_names)(\d+)$")


def _load_cases() -> dict[str, Any]:
    cases = {}
    for case in sorted(KERAS_DIR.iterdir()):
        exp = case / "expected.json"
        if exp.is_file():
            cases[case.name] = json.loads(exp.read_text())
    return cases


CASES = _load_cases()
FILES = [(case, name) for case, exp in CASES.items() for name in exp["files"]]
FILE_IDS = [f"{c}/{n}" for c, n in FILES]


def expected(case: str, name: str) -> dict[str, Any]:
    return CASES[case]["files"][name]


def sha(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def h5_format(desc: dict[str, Any]) -> str:
    """The format an HDF5 file description says it has."""
    root = desc["root_attrs"]
    if "model_config" in root:
        return "legacy_h5_model"
    if "layer_names" in root or "layer_names0" in root:
        return "legacy_h5_weights"
    return "keras_weights_h5"


def whole_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """expected.json attributes with Keras's chunks joined, as ``store.attrs`` gives them."""
    out: dict[str, Any] = {}
    chunks: dict[str, list[tuple[int, list[str]]]] = {}
    for name, value in attrs.items():
        m = _CHUNK.match(name)
        if m and m.group(1) not in attrs:
            chunks.setdefault(m.group(1), []).append((int(m.group(2)), value))
        else:
            out[name] = value
    for base, parts in chunks.items():
        out[base] = [item for _, part in sorted(parts) for item in part]
    return out


def plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


# -- checks shared by every HDF5 description ----------------------------------------------------


def check_datasets(store: ks.Store, desc: dict[str, Any], base_offset: int, in_place: bool) -> None:
    """Every dataset bit-exact; contiguous ones zero-copy at ``base_offset + offset``."""
    datasets = desc["datasets"]
    assert set(store.keys()) == {p.lstrip("/") for p in datasets}
    views = []
    for path, d in datasets.items():
        key = path.lstrip("/")
        arr = store[key]
        assert arr.dtype.name == d["dtype"], key
        assert list(arr.shape) == d["shape"] and list(store.shape(key)) == d["shape"], key
        assert store.dtype(key) == arr.dtype and store.dtype_name(key) == d["dtype"], key
        assert store.nbytes(key) == d["nbytes"] == arr.nbytes, key
        assert sha(arr) == d["sha256"], f"{key}: bytes differ"
        assert not arr.flags.writeable, key
        copy = store.get(key, copy=True)
        assert copy.flags.writeable and sha(copy) == d["sha256"], key
        contiguous = d["layout"] == "contiguous" and not d["filters"]
        assert store.layout(key) == d["layout"], key
        assert store.is_zero_copy(key) == contiguous, key
        if contiguous:
            assert isinstance(arr.base, _core.MappedBuffer), f"{key}: not a view of the map"
            file, offset, length = store.location(key)
            assert length == d["nbytes"], key
            if in_place:
                assert offset == base_offset + d["offset"], key
                views.append((arr, offset))
        else:
            assert not isinstance(arr.base, _core.MappedBuffer), key
            assert store.location(key) is None, key
    # Views of one map are as far apart in memory as their offsets are in the file.
    nonempty = [(a, o) for a, o in views if a.nbytes]
    if len(nonempty) >= 2:
        (a0, o0) = nonempty[0]
        bases = {id(a.base) for a, _ in nonempty}
        assert len(bases) == 1, "one MappedBuffer per file"
        p0 = a0.__array_interface__["data"][0]
        for a, o in nonempty[1:]:
            assert a.__array_interface__["data"][0] - p0 == o - o0


def check_groups(store: ks.Store, desc: dict[str, Any]) -> None:
    groups = store.groups()
    assert groups[0] == "/"
    assert set(groups) == {"/"} | set(desc["groups"])
    for group, g in desc["groups"].items():
        got = {k: plain(v) for k, v in store.attrs(group).items()}
        assert got == whole_attrs(g["attrs"]), group


def check_key_order(store: ks.Store, desc: dict[str, Any]) -> None:
    keys = store.keys()
    fmt = store.format
    if fmt in ("legacy_h5_model", "legacy_h5_weights"):
        groups = {g: whole_attrs(v["attrs"]) for g, v in desc["groups"].items()}
        root = "model_weights" if fmt == "legacy_h5_model" else ""
        root_attrs = groups.get("/" + root) if root else whole_attrs(desc["root_attrs"])
        order: list[str] = []
        for layer in [*root_attrs["layer_names"], "top_level_model_weights"]:
            group = "/".join(p for p in (root, layer) if p)
            for name in groups.get("/" + group, {}).get("weight_names", []):
                order.append(f"{group}/{name}")
        if fmt == "legacy_h5_model" and "/optimizer_weights" in groups:
            names = groups["/optimizer_weights"]["weight_names"]
            order += [f"optimizer_weights/{n}" for n in names]
        assert keys[: len(order)] == order
        assert sorted(keys[len(order) :], key=natural_key) == keys[len(order) :]
    else:
        assert keys == sorted(keys, key=natural_key)
        # Natural, not HDF5's bytewise order: vars/9 before vars/10.
        for key in keys:
            m = re.match(r"^(.*)/(\d+)$", key)
            if m and int(m.group(2)) >= 10:
                assert keys.index(f"{m.group(1)}/9") < keys.index(key)


def check_h5_store(store: ks.Store, desc: dict[str, Any], base: int = 0, in_place: bool = True):
    check_datasets(store, desc, base, in_place)
    check_groups(store, desc)
    check_key_order(store, desc)


# -- tests ----------------------------------------------------------------------------------------


def test_fixture_inventory():
    """Guard against a silently empty parametrization."""
    assert {"k3_seq", "k3_func", "k3_sub", "k3_bf16", "k3_f16", "k3_chunked", "k3_assets",
            "tfk_seq", "tfk_func", "tfk_chunked", "tfk_legacy_adam", "derived"} <= set(CASES)
    kinds = {expected(c, n)["kind"] for c, n in FILES}
    assert kinds == {"h5", "keras", "keras_dir", "weights_json"}
    assert len(FILES) >= 30


@pytest.mark.parametrize("case,name", FILES, ids=FILE_IDS)
def test_fixture(case, name):
    desc = expected(case, name)
    path = KERAS_DIR / case / name
    kind = desc["kind"]
    if kind == "keras" and desc["weights"] is None:
        # Keras's npz-weights variant: pickled objects, refused by name.
        with pytest.raises(ks.UnsupportedFormatError, match="model.weights.npz"):
            ks.open(path)
        return
    for verify in (True, False):
        with ks.open(path, verify=verify) as store:
            if kind == "h5":
                check_hdf5_file(store, desc)
            elif kind == "keras":
                check_archive(store, desc, path)
            elif kind == "keras_dir":
                check_directory(store, desc, path)
            else:
                check_sharded(store, desc, case, path)
            store.verify()


def check_hdf5_file(store: ks.Store, desc: dict[str, Any]) -> None:
    fmt = h5_format(desc)
    assert store.format == fmt
    check_h5_store(store, desc)
    root = desc["root_attrs"]
    if fmt == "legacy_h5_model":
        assert store.config == root["model_config"]
        meta = store.metadata
        assert meta["keras_version"] == root["keras_version"]
        assert meta["backend"] == root["backend"]
        assert meta.get("training_config") == root.get("training_config")
        assert "model_config" not in meta
    else:
        assert store.config is None
        if fmt == "legacy_h5_weights":
            assert store.metadata["layer_names"] == whole_attrs(root)["layer_names"]


def check_archive(store: ks.Store, desc: dict[str, Any], path: Path) -> None:
    assert store.format == "keras_archive"
    assert store.config == desc["config"]
    assert store.metadata == desc["metadata"]
    members = {m["name"]: m for m in desc["members"]}
    got = store.members
    assert [m[0] for m in got] == [m["name"] for m in desc["members"]]
    for name, method, offset, size, csize in got:
        m = members[name]
        assert (offset, size, csize) == (m["data_offset"], m["size"], m["compressed_size"])
        assert method == {0: "stored", 8: "deflated"}[m["method"]]
    weights = members[desc["weights_member"]]
    stored = weights["method"] == 0
    assert store.weights_in_place == stored
    if stored:
        assert store.weights_range == (weights["data_offset"], weights["size"])
    check_h5_store(store, desc["weights"], weights["data_offset"], in_place=stored)
    for key in store.keys():
        if store.is_zero_copy(key):
            base = store[key].base
            # In place: a view of the .keras file itself; DEFLATED: of the inflated copy.
            assert (base.path == str(path)) == stored
    assets = {n[len("assets/") :]: text for n, text in desc["assets"].items()}
    assert sorted(store.assets) == sorted(assets)
    for name, text in assets.items():
        assert store.read_asset(name).decode("utf-8") == text
        assert store.read_asset("assets/" + name).decode("utf-8") == text
    with pytest.raises(KeyError):
        store.read_asset("nope.txt")


def check_directory(store: ks.Store, desc: dict[str, Any], path: Path) -> None:
    assert store.format == "keras_archive" and store.is_directory
    assert store.config == desc["config"]
    assert store.metadata == desc["metadata"]
    check_h5_store(store, desc["weights"])
    assets = sorted(f[len("assets/") :] for f in desc["files"] if f.startswith("assets/"))
    assert sorted(store.assets) == assets
    for name in assets:
        assert store.read_asset(name) == (path / "assets" / name).read_bytes()


def check_sharded(store: ks.Store, desc: dict[str, Any], case: str, path: Path) -> None:
    assert store.format == "keras_weights_sharded"
    assert store.config is None
    assert store.metadata == desc["index"]["metadata"]
    assert [os.path.basename(s) for s in store.shards] == desc["shards"]
    wm = {k: v if isinstance(v, list) else [v] for k, v in desc["index"]["weight_map"].items()}
    assert store.weight_map == wm
    shards = [expected(case, s) for s in desc["shards"]]
    union: dict[str, Any] = {}
    for shard in shards:
        for p, d in shard["datasets"].items():
            union.setdefault(p, d)
    keys = store.keys()
    assert keys == sorted((p.lstrip("/") for p in union), key=natural_key)
    for p, d in union.items():
        key = p.lstrip("/")
        arr = store[key]
        assert sha(arr) == d["sha256"] and arr.dtype.name == d["dtype"], key
        assert isinstance(arr.base, _core.MappedBuffer), key
        file, offset, _ = store.location(key)
        assert os.path.basename(file) in wm[p.rsplit("/", 1)[0]]
        assert offset == d["offset"]
    # Groups recreated in later shards lack @name; attrs() merges, so every vars group has it.
    assert store.attrs("/optimizer/vars")["name"] == "adam"


@pytest.mark.parametrize("case", sorted(c for c in CASES if CASES[c].get("keras_get_weights")))
def test_keras_weights_are_in_the_files(case):
    """Every array of Keras's get_weights() is, bit for bit, a tensor of each artifact."""
    want = CASES[case]["keras_get_weights"]
    for name, desc in CASES[case]["files"].items():
        if re.search(r"_\d{5}\.weights\.h5$", name):
            continue  # a single shard: the index covers it
        if desc["kind"] == "keras" and desc["weights"] is None:
            continue  # npz weights
        with ks.open(KERAS_DIR / case / name) as store:
            have = {sha(store[k]) for k in store.keys()}
        missing = [i for i, w in enumerate(want) if w not in have]
        assert not missing, f"{name}: get_weights()[{missing}] not among its tensors"


def test_archive_weights_are_views_of_the_zip():
    path = KERAS_DIR / "k3_seq" / "k3_seq.keras"
    raw = path.read_bytes()
    with ks.open(path) as store:
        for key in store.keys():
            arr = store[key]
            _, offset, length = store.location(key)
            assert raw[offset : offset + length] == arr.tobytes()
        kept = store["layers/dense/vars/0"]
    # Arrays outlive the store (the map lives as long as they do).
    assert store.closed and kept.sum() == kept.sum()
    with pytest.raises(ValueError, match="closed"):
        store["layers/dense/vars/0"]


def test_verify_checks_the_weights_crc(tmp_path):
    """A flipped byte inside a STORED weights member is invisible to HDF5 but not to the CRC."""
    src = KERAS_DIR / "k3_seq" / "k3_seq.keras"
    with ks.open(src) as store:
        _, offset, _ = store.location("layers/dense/vars/0")
    data = bytearray(src.read_bytes())
    data[offset] ^= 0xFF
    bad = tmp_path / "flipped.keras"
    bad.write_bytes(bytes(data))
    with ks.open(bad, verify=True) as store:
        with pytest.raises(ks.CorruptFileError, match="CRC|crc"):
            store["layers/dense/vars/0"]
    with ks.open(bad, verify=False) as store:
        store["layers/dense/vars/0"]  # verify=False: pure zero-copy, no check
        with pytest.raises(ks.CorruptFileError):
            store.verify()


def test_bfloat16_and_float16_dtypes():
    import ml_dtypes

    with ks.open(KERAS_DIR / "k3_bf16" / "k3_bf16.weights.h5") as store:
        dtypes = {store.dtype_name(k) for k in store.keys()}
        assert "bfloat16" in dtypes
        for key in store.keys():
            if store.dtype_name(key) == "bfloat16":
                assert store[key].dtype == np.dtype(ml_dtypes.bfloat16)
                assert store.is_zero_copy(key)
    with ks.open(KERAS_DIR / "k3_f16" / "k3_f16.weights.h5") as store:
        assert "float16" in {store.dtype_name(k) for k in store.keys()}


def test_legacy_names_and_metadata():
    with ks.open(KERAS_DIR / "tfk_chunked" / "tfk_chunked.h5") as store:
        assert store.format == "legacy_h5_model"
        assert len(store.layer_names) == 7
        attrs = store.attrs("/model_weights")
        assert "layer_names" in attrs and "layer_names0" not in attrs
        assert store.attrs("/model_weights/top_level_model_weights")["weight_names"] == []
    with ks.open(KERAS_DIR / "tfk_seq" / "tfk_seq.h5") as store:
        assert store.weight_names("dense") == ["dense/kernel:0", "dense/bias:0"]
        assert store.keys()[:2] == ["model_weights/dense/dense/kernel:0",
                                    "model_weights/dense/dense/bias:0"]
        assert store.metadata["training_config"]["loss"] == "mse"
        assert store.keys()[-1].startswith("optimizer_weights/")
        assert store.config["class_name"] == "Sequential"


def test_missing_key_names_file_and_key():
    path = KERAS_DIR / "k3_seq" / "k3_seq.weights.h5"
    with ks.open(path) as store:
        with pytest.raises(KeyError) as info:
            store["layers/nope/vars/0"]
        assert str(path) in str(info.value) and "layers/nope/vars/0" in str(info.value)
        assert "layers/nope/vars/0" not in store
        assert "layers/dense/vars/0" in store and "/layers/dense/vars/0" in store
