"""``ks.checkpoint``: the tf.train-style reader, writer and object graph (no TensorFlow needed)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import kerasave as ks  # noqa: E402  (a broken build must fail, not skip)
from kerasave import _core  # noqa: E402

from conftest import assert_same  # noqa: E402
from kerasave.checkpoint import (  # noqa: E402
    OBJECT_GRAPH_PROTO_KEY,
    ObjectGraph,
    ObjectNode,
    ObjectReference,
)

GRAPH = OBJECT_GRAPH_PROTO_KEY
KERNEL = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"


# -- reading ------------------------------------------------------------------------------------


def test_reader_tf_names(small_checkpoint, small_tensors):
    r = ks.checkpoint.load_checkpoint(small_checkpoint)
    assert r.prefix == small_checkpoint
    assert r.num_shards == 1
    for key, want in small_tensors.items():
        assert r.has_tensor(key)
        assert_same(r.get_tensor(key), want)
    assert not r.has_tensor("nope")
    assert KERNEL in r and "nope" not in r and len(r) == len(small_tensors) + 1
    shapes = r.get_variable_to_shape_map()
    assert shapes[KERNEL] == [3, 4] and shapes["save_counter/.ATTRIBUTES/VARIABLE_VALUE"] == []
    assert shapes[GRAPH] == []
    assert all(type(s) is list for s in shapes.values())
    dtypes = r.get_variable_to_dtype_map()
    assert dtypes[KERNEL] == np.dtype(np.float32)
    assert dtypes["save_counter/.ATTRIBUTES/VARIABLE_VALUE"] == np.dtype(np.int64)
    assert dtypes[GRAPH] == np.dtype(object)
    assert set(shapes) == set(dtypes) == set(r.keys())
    r.verify()
    assert "CheckpointReader" in repr(r)


def test_missing_key_is_a_key_error_naming_key_and_file(small_checkpoint):
    r = ks.checkpoint.load_checkpoint(small_checkpoint)
    with pytest.raises(KeyError) as info:
        r.get_tensor("no/such/key")
    msg = str(info.value)
    assert "no/such/key" in msg and small_checkpoint in msg


def test_bytes_keys_work_like_str(small_checkpoint, small_tensors):
    r = ks.checkpoint.load_checkpoint(small_checkpoint)
    assert_same(r.get_tensor(KERNEL.encode()), small_tensors[KERNEL])
    assert r.has_tensor(KERNEL.encode())
    with pytest.raises(TypeError):
        r.get_tensor(42)


def test_get_tensors_in_one_call(small_checkpoint, small_tensors):
    r = ks.checkpoint.load_checkpoint(small_checkpoint)
    keys = list(small_tensors)[::-1]
    arrays = r.get_tensors(keys)
    for key, got in zip(keys, arrays):
        assert_same(got, small_tensors[key])
    copies = r.get_tensors(keys, copy=True)
    assert all(a.flags.writeable for a in copies)
    with pytest.raises(KeyError):
        r.get_tensors([KERNEL, "nope"])


def test_list_variables_is_sorted_and_lists_the_graph_like_tf(small_checkpoint, small_tensors):
    got = ks.checkpoint.list_variables(small_checkpoint)
    assert [k for k, _ in got] == sorted(list(small_tensors) + [GRAPH])
    assert dict(got)[GRAPH] == []
    assert dict(got)[KERNEL] == [3, 4]


def test_open_by_directory_index_and_data_file(small_checkpoint, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises((FileNotFoundError, ValueError)):
        ks.checkpoint.load_checkpoint(empty)
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "ckpt"\nall_model_checkpoint_paths: "ckpt"\n')
    for path in (tmp_path, small_checkpoint + ".index", small_checkpoint + ".data-00000-of-00001"):
        assert ks.checkpoint.load_checkpoint(path).prefix == small_checkpoint


def test_latest_checkpoint(tmp_path, make_checkpoint):
    assert ks.checkpoint.latest_checkpoint(tmp_path) is None
    make_checkpoint({"w": np.zeros(2)}, name="ckpt-1")
    make_checkpoint({"w": np.ones(2)}, name="ckpt-2")
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-2"\n'
        'all_model_checkpoint_paths: "ckpt-1"\n'
        'all_model_checkpoint_paths: "ckpt-2"\n'
    )
    latest = ks.checkpoint.latest_checkpoint(tmp_path)
    assert latest == os.path.join(str(tmp_path), "ckpt-2")
    assert ks.checkpoint.load_checkpoint(tmp_path).get_tensor("w").tolist() == [1.0, 1.0]
    assert _core.resolve_prefix(str(tmp_path)) == latest


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError):
        ks.checkpoint.load_checkpoint(tmp_path / "nope")


def test_truncated_index(small_checkpoint):
    index = Path(small_checkpoint + ".index")
    index.write_bytes(index.read_bytes()[: len(index.read_bytes()) // 2])
    with pytest.raises(ks.CorruptFileError, match=str(index)):
        ks.checkpoint.load_checkpoint(small_checkpoint)


# -- writing ------------------------------------------------------------------------------------


def test_round_trip_every_dtype(dtype_checkpoint):
    prefix, tensors = dtype_checkpoint
    r = ks.checkpoint.load_checkpoint(prefix)
    for key, want in tensors.items():
        got = r.get_tensor(key)
        assert_same(got, want)
        assert not got.flags.writeable
    r.verify()


def test_save_returns_prefix_and_creates_parent_dirs(tmp_path):
    prefix = tmp_path / "a" / "b" / "ckpt-7"
    out = ks.checkpoint.save_checkpoint(prefix, {"w": np.arange(3.0)})
    assert out == str(prefix)
    assert sorted(os.listdir(prefix.parent)) == ["ckpt-7.data-00000-of-00001", "ckpt-7.index"]
    assert not (prefix.parent / "checkpoint").exists()  # like Checkpoint.write, no state file


def test_save_accepts_python_values_str_and_byte_order(make_checkpoint):
    prefix = make_checkpoint(
        {
            "list": [[1, 2], [3, 4]],
            "float": 2.5,
            "text": "héllo",
            "raw": b"\x00\x01",
            "str_array": np.array(["a", "bc"]),
            "bytes_array": np.array([b"x", b"yz"]),
            "big_endian": np.arange(4, dtype=">f8"),
            "transposed": np.arange(6, dtype=np.int32).reshape(2, 3).T,
            "scalar": np.int16(-3),
        }
    )
    r = ks.checkpoint.load_checkpoint(prefix)
    assert r.get_tensor("list").tolist() == [[1, 2], [3, 4]]
    assert r.get_tensor("float").shape == () and float(r.get_tensor("float")) == 2.5
    assert r.get_tensor("text")[()] == "héllo".encode()
    assert r.get_tensor("raw")[()] == b"\x00\x01"
    assert r.get_tensor("str_array").tolist() == [b"a", b"bc"]
    assert r.get_tensor("bytes_array").tolist() == [b"x", b"yz"]
    assert r.get_tensor("big_endian").tolist() == [0.0, 1.0, 2.0, 3.0]
    assert r.get_tensor("big_endian").dtype == np.dtype("<f8")
    assert r.get_tensor("transposed").tolist() == [[0, 3], [1, 4], [2, 5]]
    assert r.get_tensor("scalar").shape == () and int(r.get_tensor("scalar")) == -3


@pytest.mark.parametrize(
    "value,error",
    [
        (np.array([1, "a", None], dtype=object), TypeError),
        (np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f4")]), TypeError),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), TypeError),
    ],
)
def test_save_refuses_what_a_bundle_cannot_hold(tmp_path, value, error):
    with pytest.raises(error):
        ks.checkpoint.save_checkpoint(tmp_path / "ckpt", {"w": value})
    assert not list(tmp_path.iterdir()) or not (tmp_path / "ckpt.index").exists()


def test_save_refuses_bad_keys_and_sizes(tmp_path):
    with pytest.raises(TypeError):
        ks.checkpoint.save_checkpoint(tmp_path / "c", {1: np.zeros(1)})
    with pytest.raises(ValueError):
        ks.checkpoint.save_checkpoint(tmp_path / "c", {"w": np.zeros(1)}, max_shard_size=0)


def test_strings_with_nul_and_empty(make_checkpoint):
    values = np.array([[b"", b"\x00"], [b"a\x00b\x00", b"\xff" * 1000]], dtype=object)
    prefix = make_checkpoint({"s": values, "empty": np.array([], dtype=object)})
    r = ks.checkpoint.load_checkpoint(prefix)
    assert_same(r.get_tensor("s"), values)
    got = r.get_tensor("empty")
    assert got.shape == (0,) and got.dtype == object


def test_multi_shard(make_checkpoint):
    tensors = {f"v{i}": np.full(100, i, np.float32) for i in range(7)}  # 400 bytes each
    prefix = make_checkpoint(tensors, max_shard_size=1000)
    r = ks.checkpoint.load_checkpoint(prefix)
    assert r.num_shards == 4  # greedy packing: 2+2+2+1
    files = sorted(p.name for p in Path(prefix).parent.iterdir() if ".data-" in p.name)
    assert files == [f"ckpt.data-0000{i}-of-00004" for i in range(4)]
    arrays = {k: r.get_tensor(k) for k in tensors}
    for key, want in tensors.items():
        assert_same(arrays[key], want)
    bases = {id(a.base) for a in arrays.values()}
    assert len(bases) == 4  # one MappedBuffer per shard, shared by its arrays
    r.verify()


def test_object_graph_auto_built_for_object_keys(small_checkpoint, small_tensors):
    r = ks.checkpoint.load_checkpoint(small_checkpoint)
    g = r.object_graph()
    assert isinstance(g, ObjectGraph)
    keys = {a.checkpoint_key for _, a in g.attributes()}
    assert keys == set(small_tensors)
    layer = g.child(g.root, "layer_with_weights-0")
    assert layer is not None and layer.path == ("layer_with_weights-0",)
    kernel = g.child(layer, "kernel")
    assert kernel.attributes[0].name == "VARIABLE_VALUE"
    assert kernel.attributes[0].checkpoint_key == KERNEL
    assert kernel.path_str == "layer_with_weights-0/kernel"
    assert g.child(0, "missing") is None
    assert g.root.path == () and g[0] is g.root and len(g) == len(list(g))
    assert all(isinstance(c, ObjectReference) for n in g for c in n.children)
    assert g.summary()["attributes"] == len(small_tensors)


def test_object_graph_is_written_last(small_checkpoint):
    r = ks.checkpoint.load_checkpoint(small_checkpoint)
    graph_bytes = r.get_tensor(GRAPH)[()]
    data = Path(small_checkpoint + ".data-00000-of-00001").read_bytes()
    assert data.endswith(graph_bytes)
    assert max(r._reader.location(k)[1] for k in r.keys()) == r._reader.location(GRAPH)[1]


def test_object_graph_options(make_checkpoint, small_tensors):
    none = make_checkpoint(small_tensors, name="none", object_graph=False)
    assert ks.checkpoint.load_checkpoint(none).object_graph() is None
    assert GRAPH not in ks.checkpoint.load_checkpoint(none)
    # keys that are not object paths: no graph
    plain = make_checkpoint({"w": np.zeros(1)}, name="plain")
    assert ks.checkpoint.load_checkpoint(plain).object_graph() is None
    with pytest.raises(ValueError):
        make_checkpoint({"w": np.zeros(1)}, name="forced", object_graph=True)
    # explicit serialized graph
    graph = _core.build_object_graph(list(small_tensors))
    explicit = make_checkpoint(small_tensors, name="explicit", object_graph=graph)
    assert ks.checkpoint.load_checkpoint(explicit).get_tensor(GRAPH)[()] == graph
    # a graph passed as a tensor is kept (and still written last)
    copied = make_checkpoint({**small_tensors, GRAPH: np.array(graph, dtype=object)}, name="copied")
    r = ks.checkpoint.load_checkpoint(copied)
    assert r.get_tensor(GRAPH)[()] == graph
    assert Path(copied + ".data-00000-of-00001").read_bytes().endswith(graph)
    with pytest.raises(ValueError, match="pass one"):
        make_checkpoint({**small_tensors, GRAPH: graph}, name="both", object_graph=graph)
    # a graph tensor with object_graph=False is a contradiction, not something to drop silently
    with pytest.raises(ValueError, match="object_graph=False"):
        make_checkpoint({**small_tensors, GRAPH: graph}, name="dropped", object_graph=False)


def test_object_graph_with_slots_and_escaping(make_checkpoint):
    keys = [
        "model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE",
        "model/a.Sb..c/.ATTRIBUTES/VARIABLE_VALUE",
        "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE",
        "model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE",
    ]
    prefix = make_checkpoint({k: np.zeros(2, np.float32) for k in keys})
    g = ks.checkpoint.load_checkpoint(prefix).object_graph()
    model = g.child(g.root, "model")
    odd = g.child(model, "a/b.c")  # unescaped local name
    assert odd is not None and odd.path == ("model", "a/b.c") and odd.path_str == "model/a.Sb..c"
    slots = list(g.slot_variables())
    assert len(slots) == 1
    optimizer, slot = slots[0]
    assert optimizer.path == ("optimizer",) and slot.slot_name == "m"
    slot_node = g[slot.slot_variable_node_id]
    assert slot_node.path is None
    assert slot_node.attributes[0].checkpoint_key == keys[3]
    assert g[slot.original_variable_node_id].path == ("model", "layer_with_weights-0", "kernel")


def test_object_graph_from_bytes():
    graph = _core.build_object_graph(["a/.ATTRIBUTES/VARIABLE_VALUE"])
    g = ObjectGraph.from_bytes(graph)
    assert [n.path for n in g] == [(), ("a",)]
    assert isinstance(g[1], ObjectNode)
    with pytest.raises(ks.CorruptFileError):
        ObjectGraph.from_bytes(b"\xff\xff\xff")


def test_name_helpers():
    assert ks.checkpoint.escape_local_name("a/b.c") == "a.Sb..c"
    assert ks.checkpoint.unescape_local_name("x....y.S.Sz") == "x..y//z"
    assert ks.checkpoint.checkpoint_key("a.Sb", "VARIABLE_VALUE") == "a.Sb/.ATTRIBUTES/VARIABLE_VALUE"
    with pytest.raises(ValueError):
        ks.checkpoint.unescape_local_name("lone.dot")


def test_writer_is_atomic_and_leaves_no_temp_files(make_checkpoint, small_tensors, tmp_path):
    prefix = make_checkpoint(small_tensors)
    reader = ks.checkpoint.load_checkpoint(prefix)
    view = reader.get_tensor(KERNEL)
    # overwrite the same prefix while a view of the old data is alive
    make_checkpoint({k: np.asarray(v) * 2 for k, v in small_tensors.items()})
    assert_same(view, small_tensors[KERNEL])  # the old map stays valid
    assert_same(ks.checkpoint.load_checkpoint(prefix).get_tensor(KERNEL), small_tensors[KERNEL] * 2)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


# -- the `checkpoint` state file ----------------------------------------------------------------


def test_update_state_keeps_history_with_relative_paths(tmp_path):
    prefixes = [
        ks.checkpoint.save_checkpoint(str(tmp_path / f"ckpt-{i}"), {"w": np.zeros(2)}, update_state=True)
        for i in (1, 2)
    ]
    assert ks.checkpoint.latest_checkpoint(tmp_path) == prefixes[-1]
    state = ks.checkpoint.get_checkpoint_state(tmp_path)
    assert state.model_checkpoint_path == prefixes[-1]
    assert state.all_model_checkpoint_paths == tuple(prefixes)
    assert (tmp_path / "checkpoint").read_text() == (
        'model_checkpoint_path: "ckpt-2"\n'
        'all_model_checkpoint_paths: "ckpt-1"\n'
        'all_model_checkpoint_paths: "ckpt-2"\n'
    )
    # Opening the directory follows the state file.
    with ks.open(tmp_path) as store:
        assert store.format == "tf_checkpoint"


def test_update_checkpoint_state_outside_dir_and_timestamps(tmp_path):
    elsewhere = tmp_path / "other" / "ckpt-9"
    ks.checkpoint.save_checkpoint(str(elsewhere), {"w": np.zeros(1)})
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    ks.checkpoint.update_checkpoint_state(state_dir, str(elsewhere), all_model_checkpoint_timestamps=[5.0])
    text = (state_dir / "checkpoint").read_text()
    assert f'model_checkpoint_path: "{elsewhere}"' in text
    assert "all_model_checkpoint_timestamps: 5.0" in text
    assert ks.checkpoint.latest_checkpoint(state_dir) == str(elsewhere)
    with pytest.raises(ValueError, match="timestamps"):
        ks.checkpoint.update_checkpoint_state(state_dir, "a", ["a", "b"], [1.0])


def test_get_checkpoint_state_missing_or_garbage(tmp_path):
    assert ks.checkpoint.get_checkpoint_state(tmp_path) is None
    (tmp_path / "checkpoint").write_text("not: [a valid")
    assert ks.checkpoint.get_checkpoint_state(tmp_path) is None
    assert ks.checkpoint.latest_checkpoint(tmp_path) is None
    with pytest.raises(ks.CorruptFileError, match="checkpoint"):
        ks.checkpoint.load_checkpoint(tmp_path)


def test_save_without_fsync_is_still_complete_and_atomic(tmp_path, small_tensors):
    prefix = ks.checkpoint.save_checkpoint(str(tmp_path / "ckpt"), small_tensors, fsync=False)
    reader = ks.checkpoint.load_checkpoint(prefix)
    for key, value in small_tensors.items():
        assert_same(reader.get_tensor(key), value)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.data-00000-of-00001", "ckpt.index"]
