"""kerasave against checkpoints written by real TensorFlow 2.21 (tests/data/tf, see its README).

No TensorFlow import: the expectations were computed by TF when the fixtures were made and are
stored in each case's expected.json. Every comparison is bit-exact (sha256 of the array bytes,
hex of every string element).
"""
import collections
import hashlib
import json
import os
import shutil

import numpy as np
import pytest

import kerasave as ks

try:  # ml_dtypes registers bfloat16/float8/int4 with numpy; kerasave needs it for those dtypes
    import ml_dtypes  # noqa: F401
except ImportError:  # pragma: no cover
    ml_dtypes = None

HERE = os.path.dirname(os.path.abspath(__file__))
TF_DIR = os.path.join(HERE, "data", "tf")
DEMO_DIR = os.path.join(HERE, "..", "python", "kerasave", "data", "demo")
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def _load_cases():
    cases = {}
    for name in sorted(os.listdir(TF_DIR)):
        path = os.path.join(TF_DIR, name, "expected.json")
        if os.path.isfile(path):
            with open(path) as f:
                cases[name] = json.load(f)
    return cases


CASES = _load_cases()
CHECKPOINTS = [(case, prefix) for case, exp in CASES.items() for prefix in exp["checkpoints"]]
CKPT_IDS = [f"{c}/{p}" for c, p in CHECKPOINTS]
OBJECT_BASED = [(c, p) for c, p in CHECKPOINTS if "object_graph" in CASES[c]["checkpoints"][p]]


def test_fixture_inventory():
    """Guard against a silently empty parametrization."""
    assert {"dtypes", "variables", "tfkeras_adam", "tfkeras_legacy_adam", "tfkeras_functional",
            "escaping", "manager", "sharded_policy", "tf1_saver"} <= set(CASES)
    assert len(CHECKPOINTS) >= 12


def prefix_path(case, prefix):
    return os.path.join(TF_DIR, case, prefix)


def expected(case, prefix):
    return CASES[case]["checkpoints"][prefix]


# ------------------------------------------------------------------------------------------------
# comparison helpers
# ------------------------------------------------------------------------------------------------

def dtype_names(d):
    """Every plausible spelling of a dtype object returned by the library."""
    names = set()
    if isinstance(d, str):
        names.add(d)
    for attr in ("name",):
        v = getattr(d, attr, None)
        if isinstance(v, str):
            names.add(v)
    try:
        names.add(np.dtype(d).name)
    except TypeError:
        pass
    return names


def assert_dtype_ok(got, exp, what):
    allowed = {exp["dtype"], exp["tf_dtype"]}
    if exp["tf_dtype"] == "string":
        allowed.add("object")
    assert dtype_names(got) & allowed, f"{what}: dtype {got!r}, expected one of {allowed}"


def assert_array_matches(arr, exp, what):
    assert isinstance(arr, np.ndarray), f"{what}: got {type(arr)}"
    assert list(arr.shape) == exp["shape"], f"{what}: shape {arr.shape} != {exp['shape']}"
    if exp["tf_dtype"] == "string":
        assert arr.dtype == object, f"{what}: string tensor has dtype {arr.dtype}, want object"
        flat = arr.reshape(-1)
        got = []
        for s in flat:
            assert isinstance(s, bytes), f"{what}: element {s!r} is not bytes"
            got.append(s.hex())
        assert got == exp["strings"], f"{what}: string values differ"
    else:
        assert arr.dtype.name == exp["dtype"], f"{what}: dtype {arr.dtype.name} != {exp['dtype']}"
        assert arr.nbytes == exp["nbytes"], f"{what}: nbytes {arr.nbytes} != {exp['nbytes']}"
        digest = hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()
        assert digest == exp["sha256"], f"{what}: bytes differ from what TF read"


def shape_tuple(s):
    return tuple(int(x) for x in s)


# ------------------------------------------------------------------------------------------------
# CheckpointReader (ks.checkpoint.load_checkpoint)
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case,prefix", CHECKPOINTS, ids=CKPT_IDS)
def test_reader_every_tensor(case, prefix):
    exp = expected(case, prefix)
    r = ks.checkpoint.load_checkpoint(prefix_path(case, prefix))
    for key, e in exp["tensors"].items():
        assert r.has_tensor(key), key
        assert_array_matches(r.get_tensor(key), e, f"{case}/{prefix}:{key!r}")
    assert not r.has_tensor("no/such/key")
    with pytest.raises((KeyError, ks.KerasaveError)):
        r.get_tensor("no/such/key")


@pytest.mark.parametrize("case,prefix", CHECKPOINTS, ids=CKPT_IDS)
def test_reader_maps(case, prefix):
    exp = expected(case, prefix)
    r = ks.checkpoint.load_checkpoint(prefix_path(case, prefix))
    shapes = r.get_variable_to_shape_map()
    assert set(shapes) == set(exp["tensors"])
    for key, e in exp["tensors"].items():
        assert list(shape_tuple(shapes[key])) == e["shape"], key
    dtypes = r.get_variable_to_dtype_map()
    assert set(dtypes) == set(exp["tensors"])
    for key, e in exp["tensors"].items():
        assert_dtype_ok(dtypes[key], e, key)


@pytest.mark.parametrize("case,prefix", CHECKPOINTS, ids=CKPT_IDS)
def test_list_variables(case, prefix):
    exp = expected(case, prefix)
    got = ks.checkpoint.list_variables(prefix_path(case, prefix))
    keys = [k for k, _ in got]
    assert keys == sorted(exp["tensors"]), "list_variables: every key once, sorted like TF"
    for key, shape in got:
        assert list(shape_tuple(shape)) == exp["tensors"][key]["shape"], key


# ------------------------------------------------------------------------------------------------
# ks.open
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("verify", [True, False], ids=["verify", "noverify"])
@pytest.mark.parametrize("case,prefix", CHECKPOINTS, ids=CKPT_IDS)
def test_open_every_tensor(case, prefix, verify):
    exp = expected(case, prefix)
    with ks.open(prefix_path(case, prefix), verify=verify) as store:
        assert store.format == "tf_checkpoint"
        assert set(store) == set(exp["tensors"])
        assert store.config is None  # a bare checkpoint has no model config
        assert isinstance(store.metadata, dict)
        arrays = {}
        for key, e in exp["tensors"].items():
            what = f"{case}/{prefix}:{key!r} verify={verify}"
            assert list(shape_tuple(store.shape(key))) == e["shape"], what
            assert_dtype_ok(store.dtype(key), e, what)
            arr = store[key]
            assert_array_matches(arr, e, what)
            if e["tf_dtype"] != "string":
                assert not arr.flags.writeable, f"{what}: store[key] must be read-only"
            cp = store.get(key, copy=True)
            assert_array_matches(cp, e, what + " (copy)")
            if e["tf_dtype"] != "string" and cp.size:
                assert cp.flags.writeable, f"{what}: get(copy=True) must be writable"
                cp.reshape(-1)[0] = cp.reshape(-1)[-1]
            arrays[key] = arr
    # arrays stay valid after the store is closed
    for key, arr in arrays.items():
        assert_array_matches(arr, exp["tensors"][key], f"{case}/{prefix}:{key!r} after close")


def test_open_zero_copy():
    """Little-endian, unsliced, fixed-size tensors are views on the memory map, not copies."""
    exp = expected("dtypes", "ckpt")
    with ks.open(prefix_path("dtypes", "ckpt"), verify=False) as store:
        for key, e in exp["tensors"].items():
            if e["tf_dtype"] == "string" or not e["nbytes"]:
                continue
            arr = store[key]
            assert not arr.flags.owndata, f"{key}: store[key] copied the data"


def test_open_copy_is_private():
    e = expected("dtypes", "ckpt")["tensors"]["float/float32"]
    with ks.open(prefix_path("dtypes", "ckpt")) as store:
        view = store["float/float32"]
        cp = store.get("float/float32", copy=True)
        cp[...] = 0
        assert_array_matches(view, e, "view after writing to the copy")
        assert_array_matches(store["float/float32"], e, "re-read after writing to the copy")


# ------------------------------------------------------------------------------------------------
# checksums: verify=True catches a flipped data byte, verify=False does not look
# ------------------------------------------------------------------------------------------------

def _flip_byte_of(tmp_path, key):
    src = os.path.join(TF_DIR, "dtypes")
    dst = tmp_path / "dtypes"
    shutil.copytree(src, dst)
    order = CASES["dtypes"]["data_order"]
    tensors = expected("dtypes", "ckpt")["tensors"]
    # Fixed-size tensors are packed densely in SaveV2 argument order; strings have a header of
    # varint lengths + 4 bytes, so only walk up to the first string.
    offset = 0
    for name in order:
        if name == key:
            break
        assert tensors[name]["tf_dtype"] != "string", "pick a key before the first string"
        offset += tensors[name]["nbytes"]
    data = dst / "ckpt.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[offset + 1] ^= 0x40
    data.write_bytes(bytes(raw))
    return str(dst / "ckpt")


def test_verify_detects_flipped_byte(tmp_path):
    prefix = _flip_byte_of(tmp_path, "float/float32")
    with ks.open(prefix, verify=True) as store:
        with pytest.raises(ks.CorruptFileError) as ei:
            store["float/float32"]
        assert "float/float32" in str(ei.value)
        # other tensors are fine
        assert_array_matches(store["float/float16"], expected("dtypes", "ckpt")["tensors"]
                             ["float/float16"], "neighbour")
    r = ks.checkpoint.load_checkpoint(prefix)
    with pytest.raises(ks.CorruptFileError):
        r.get_tensor("float/float32")


def test_noverify_skips_checksum(tmp_path):
    prefix = _flip_byte_of(tmp_path, "float/float32")
    e = expected("dtypes", "ckpt")["tensors"]["float/float32"]
    with ks.open(prefix, verify=False) as store:
        arr = store["float/float32"]
        assert list(arr.shape) == e["shape"]
        assert hashlib.sha256(arr.tobytes()).hexdigest() != e["sha256"]


# ------------------------------------------------------------------------------------------------
# directories, state files, latest_checkpoint
# ------------------------------------------------------------------------------------------------

CASE_DIRS = sorted(CASES)


@pytest.mark.parametrize("case", CASE_DIRS)
def test_latest_checkpoint(case):
    d = os.path.join(TF_DIR, case)
    latest = CASES[case]["latest"]
    got = ks.checkpoint.latest_checkpoint(d)
    if latest is None:
        assert got is None
    else:
        assert got is not None
        assert os.path.normpath(str(got)) == os.path.normpath(os.path.join(d, latest))


@pytest.mark.parametrize("case", [c for c in CASE_DIRS if CASES[c]["latest"]])
def test_open_directory_resolves_latest(case):
    d = os.path.join(TF_DIR, case)
    latest = CASES[case]["latest"]
    exp = expected(case, latest)
    r = ks.checkpoint.load_checkpoint(d)
    for key, e in exp["tensors"].items():
        assert_array_matches(r.get_tensor(key), e, f"{case} dir:{key}")
    assert [k for k, _ in ks.checkpoint.list_variables(d)] == sorted(exp["tensors"])
    with ks.open(d) as store:
        assert store.format == "tf_checkpoint"
        assert set(store) == set(exp["tensors"])
        for key, e in exp["tensors"].items():
            assert_array_matches(store[key], e, f"{case} ks.open(dir):{key}")


def test_manager_older_checkpoints_readable():
    exp = CASES["manager"]
    assert exp["latest"] == "ckpt-5"
    for i, prefix in enumerate(["ckpt-3", "ckpt-4", "ckpt-5"]):
        r = ks.checkpoint.load_checkpoint(prefix_path("manager", prefix))
        step = r.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")
        assert int(step) == i + 3
        assert int(r.get_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE")) == i + 3
        np.testing.assert_array_equal(r.get_tensor("w/.ATTRIBUTES/VARIABLE_VALUE"),
                                      np.full((2, 2), float(i + 2), np.float32))


def test_latest_checkpoint_missing_dir_entries(tmp_path):
    assert ks.checkpoint.latest_checkpoint(str(tmp_path)) is None
    # a state file whose checkpoint is gone -> None (TF logs and returns None)
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "gone-1"\n'
                                         'all_model_checkpoint_paths: "gone-1"\n')
    assert ks.checkpoint.latest_checkpoint(str(tmp_path)) is None


def test_missing_prefix_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        ks.checkpoint.load_checkpoint(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError):
        ks.open(str(tmp_path / "nope"))


# ------------------------------------------------------------------------------------------------
# object graph
# ------------------------------------------------------------------------------------------------

def _get(obj, name):
    if isinstance(obj, dict):
        return obj[name]
    return getattr(obj, name)


def _graph_as_plain(g):
    """The library's decoded TrackableObjectGraph (protobuf-like objects or dicts) as the same
    plain structure expected.json uses."""
    nodes = []
    for n in _get(g, "nodes"):
        nodes.append({
            "children": [[int(c[1]), str(c[0])] if isinstance(c, tuple)   # (local_name, node_id)
                         else [int(_get(c, "node_id")), str(_get(c, "local_name"))]
                         for c in _get(n, "children")],
            "attributes": [[_get(a, "name"), _get(a, "full_name"), _get(a, "checkpoint_key")]
                           for a in _get(n, "attributes")],
            "slot_variables": [[int(_get(s, "original_variable_node_id")), _get(s, "slot_name"),
                                int(_get(s, "slot_variable_node_id"))]
                               for s in _get(n, "slot_variables")],
        })
    return nodes


def escape(name):
    return name.replace(".", "..").replace("/", ".S")


def derive_keys(nodes):
    """TF's key derivation (spec §4.3) over a plain graph: BFS paths, attribute keys,
    slot-variable keys. Returns {node_id: [checkpoint keys]}."""
    paths = {0: []}
    queue = collections.deque([0])
    while queue:
        nid = queue.popleft()
        for cid, local in nodes[nid]["children"]:
            if cid not in paths:
                paths[cid] = paths[nid] + [local]
                queue.append(cid)
    obj_path = {nid: "/".join(escape(p) for p in path) for nid, path in paths.items()}
    for nid, n in enumerate(nodes):
        for orig, slot_name, slot_id in n["slot_variables"]:
            obj_path[slot_id] = (f"{obj_path[orig]}/.OPTIMIZER_SLOT/{obj_path[nid]}/"
                                 f"{escape(slot_name)}")
    derived = {}
    for nid, n in enumerate(nodes):
        for name, _full, _key in n["attributes"]:
            suffix = "" if name == ".TENSORS" else escape(name)
            derived.setdefault(nid, []).append(f"{obj_path[nid]}/.ATTRIBUTES/{suffix}")
    return derived


@pytest.mark.parametrize("case,prefix", OBJECT_BASED, ids=[f"{c}/{p}" for c, p in OBJECT_BASED])
def test_object_graph_decodes(case, prefix):
    exp = expected(case, prefix)
    r = ks.checkpoint.load_checkpoint(prefix_path(case, prefix))
    g = r.object_graph()
    assert g is not None
    nodes = _graph_as_plain(g)
    want = [{k: v for k, v in n.items() if k != "has_checkpoint_values"}
            for n in exp["object_graph"]["nodes"]]
    assert len(nodes) == exp["object_graph"]["num_nodes"]
    assert nodes == want


@pytest.mark.parametrize("case,prefix", OBJECT_BASED, ids=[f"{c}/{p}" for c, p in OBJECT_BASED])
def test_object_graph_node_paths(case, prefix):
    """ObjectNode.path is the first BFS path (unescaped local names); slot nodes have none."""
    g = ks.checkpoint.load_checkpoint(prefix_path(case, prefix)).object_graph()
    nodes = _graph_as_plain(g)
    paths = {0: []}
    queue = collections.deque([0])
    while queue:
        nid = queue.popleft()
        for cid, local in nodes[nid]["children"]:
            if cid not in paths:
                paths[cid] = paths[nid] + [local]
                queue.append(cid)
    for node in g.nodes:
        if node.id in paths:
            assert node.path == tuple(paths[node.id]), node.id
            assert node.path_str == "/".join(escape(p) for p in paths[node.id])
        else:
            assert node.path is None, node.id
    # the graph read through ks.open is the same
    with ks.open(prefix_path(case, prefix)) as store:
        assert _graph_as_plain(store.object_graph()) == nodes


@pytest.mark.parametrize("case,prefix", OBJECT_BASED, ids=[f"{c}/{p}" for c, p in OBJECT_BASED])
def test_object_graph_derived_keys(case, prefix):
    """Keys derived from the graph TF wrote equal the stored checkpoint_keys, and every bundle key
    (except the graph itself) belongs to exactly one attribute (exact match, or a prefix for
    multi-tensor legacy saveables such as hash tables)."""
    exp = expected(case, prefix)
    nodes = _graph_as_plain(ks.checkpoint.load_checkpoint(prefix_path(case, prefix))
                            .object_graph())
    derived = derive_keys(nodes)
    stored = {}
    for nid, n in enumerate(nodes):
        for (name, _full, key), dkey in zip(n["attributes"], derived.get(nid, [])):
            assert dkey == key, f"node {nid} attribute {name!r}: derived {dkey!r}, stored {key!r}"
            stored[key] = nid
    bundle_keys = set(exp["tensors"]) - {GRAPH_KEY}
    for key in bundle_keys:
        if key in stored:
            continue
        owners = [k for k in stored if key.startswith(k + "-")]
        assert len(owners) == 1, f"bundle key {key!r} has no attribute in the graph"
    for key in stored:
        assert key in bundle_keys or any(k.startswith(key + "-") for k in bundle_keys), key


@pytest.mark.parametrize("case,prefix", [cp for cp in CHECKPOINTS if cp not in OBJECT_BASED],
                         ids=[f"{c}/{p}" for c, p in CHECKPOINTS if (c, p) not in OBJECT_BASED])
def test_object_graph_none_for_name_based(case, prefix):
    assert ks.checkpoint.load_checkpoint(prefix_path(case, prefix)).object_graph() is None


def test_legacy_slot_variables():
    nodes = _graph_as_plain(ks.checkpoint.load_checkpoint(
        prefix_path("tfkeras_legacy_adam", "ckpt")).object_graph())
    slots = [s for n in nodes for s in n["slot_variables"]]
    assert sorted(s[1] for s in slots) == ["m"] * 4 + ["v"] * 4


def test_escaping_keys_present():
    keys = set(expected("escaping", "ckpt")["tensors"])
    for k in ["my..obj.S1/table/a.Sb..c/.ATTRIBUTES/VARIABLE_VALUE",
              "my..obj.S1/table/x....y.S.Sz/.ATTRIBUTES/VARIABLE_VALUE",
              "custom/.ATTRIBUTES/x....y..Sz", "lookup/.ATTRIBUTES/table-keys"]:
        assert k in keys
    with ks.open(prefix_path("escaping", "ckpt")) as store:
        assert set(store) == keys


# ------------------------------------------------------------------------------------------------
# partitioned / sharded
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case,prefix", [("sharded_policy", "ckpt"), ("tf1_saver", "sharded"),
                                         ("tf1_saver", "single")])
def test_partitioned_assembled(case, prefix):
    exp = expected(case, prefix)
    assert exp["partitioned"], "fixture should contain sliced variables"
    r = ks.checkpoint.load_checkpoint(prefix_path(case, prefix))
    for key in exp["partitioned"]:
        assert_array_matches(r.get_tensor(key), exp["tensors"][key], f"{case}/{prefix}:{key}")
    # slice keys (starting with 0x00) are hidden like TF hides them
    assert not any(k.startswith("\x00") for k, _ in ks.checkpoint.list_variables(
        prefix_path(case, prefix)))


def test_tf1_sharded_and_single_agree():
    a = expected("tf1_saver", "sharded")["tensors"]
    b = expected("tf1_saver", "single")["tensors"]
    assert a == b
    ra = ks.checkpoint.load_checkpoint(prefix_path("tf1_saver", "sharded"))
    rb = ks.checkpoint.load_checkpoint(prefix_path("tf1_saver", "single"))
    for key in a:
        np.testing.assert_array_equal(ra.get_tensor(key), rb.get_tensor(key))


# ------------------------------------------------------------------------------------------------
# bundled demo sample
# ------------------------------------------------------------------------------------------------

def _demo_expected():
    with open(os.path.join(TF_DIR, "demo_expected.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("verify", [True, False])
def test_demo_sample(verify):
    exp = _demo_expected()
    for path in [DEMO_DIR, os.path.join(DEMO_DIR, "ckpt")]:
        with ks.open(path, verify=verify) as store:
            assert store.format == "tf_checkpoint"
            assert set(store) == set(exp["tensors"])
            for key, e in exp["tensors"].items():
                assert_array_matches(store[key], e, f"demo:{key}")
    with open(os.path.join(DEMO_DIR, "model.json")) as f:
        cfg = json.load(f)
    assert cfg["class_name"] == "Sequential"


def test_demo_sample_installed():
    """The installed package ships the demo (needed by `kerasave demo`)."""
    pkg_demo = os.path.join(os.path.dirname(ks.__file__), "data", "demo")
    for name in ["checkpoint", "ckpt.index", "ckpt.data-00000-of-00001", "model.json"]:
        assert os.path.isfile(os.path.join(pkg_demo, name)), f"{name} missing from {pkg_demo}"
    exp = _demo_expected()
    r = ks.checkpoint.load_checkpoint(pkg_demo)
    for key, e in exp["tensors"].items():
        assert_array_matches(r.get_tensor(key), e, f"installed demo:{key}")
