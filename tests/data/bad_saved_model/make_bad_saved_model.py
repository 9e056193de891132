#!/usr/bin/env python3
"""Writes the malformed SavedModels under ``tests/data/bad_saved_model/``.

Each case is a directory that starts as a copy of the real tf_keras SavedModel
``tests/data/saved_model/tfk_seq_notraces/model`` (or only its ``saved_model.pb`` when the
damage is found before the bundle is read) and breaks one thing, editing the protos with TF's
own protobuf classes (never kerasave's), or the bytes directly. ``tests/test_saved_model_store.py``
and ``tests/saved_model_read.rs`` pin the exact error class and message of every case and fail
when a directory here has no entry there.

Usage: ``python3 tests/data/bad_saved_model/make_bad_saved_model.py`` (needs tensorflow 2.21 and
tf_keras for the proto classes). Output is deterministic.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402
from tensorflow.core.protobuf import (  # noqa: E402
    saved_model_pb2, saved_object_graph_pb2, trackable_object_graph_pb2)
from tf_keras.protobuf import saved_metadata_pb2  # noqa: E402

HERE = Path(__file__).resolve().parent
BASE = HERE.parent / "saved_model" / "tfk_seq_notraces" / "model"
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def _case(name: str, with_rest: bool = True) -> Path:
    d = HERE / name
    shutil.rmtree(d, ignore_errors=True)
    if with_rest:
        shutil.copytree(BASE, d)
        shutil.rmtree(d / "assets", ignore_errors=True)
    else:
        d.mkdir()
        shutil.copy(BASE / "saved_model.pb", d / "saved_model.pb")
    return d


def _load(d: Path) -> saved_model_pb2.SavedModel:
    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((d / "saved_model.pb").read_bytes())
    return sm


def _store(d: Path, sm: saved_model_pb2.SavedModel) -> None:
    (d / "saved_model.pb").write_bytes(sm.SerializeToString(deterministic=True))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    return _varint(tag << 3 | 2) + _varint(len(payload)) + payload


def main() -> None:
    base = (BASE / "saved_model.pb").read_bytes()

    d = _case("truncated_pb", with_rest=False)
    (d / "saved_model.pb").write_bytes(base[: len(base) // 2])

    d = _case("garbage_pb", with_rest=False)
    (d / "saved_model.pb").write_bytes(bytes((i * 37 + 11) % 256 for i in range(4096)))

    d = _case("empty_pb", with_rest=False)
    (d / "saved_model.pb").write_bytes(b"")

    d = _case("schema_version_2", with_rest=False)
    sm = _load(d)
    sm.saved_model_schema_version = 2
    _store(d, sm)

    d = _case("two_meta_graphs", with_rest=False)
    sm = _load(d)
    extra = sm.meta_graphs.add()
    extra.CopyFrom(sm.meta_graphs[0])
    del extra.meta_info_def.tags[:]
    extra.meta_info_def.tags.extend(["serve", "gpu"])
    _store(d, sm)

    d = _case("tf1_no_object_graph", with_rest=False)
    sm = _load(d)
    sm.meta_graphs[0].ClearField("object_graph_def")
    _store(d, sm)

    d = _case("empty_object_graph", with_rest=False)
    sm = _load(d)
    del sm.meta_graphs[0].object_graph_def.nodes[:]
    _store(d, sm)

    d = _case("child_out_of_range", with_rest=False)
    sm = _load(d)
    sm.meta_graphs[0].object_graph_def.nodes[0].children[1].node_id = 9999
    _store(d, sm)

    d = _case("child_negative", with_rest=False)
    sm = _load(d)
    sm.meta_graphs[0].object_graph_def.nodes[0].children[0].node_id = -1
    _store(d, sm)

    d = _case("slot_out_of_range", with_rest=False)
    sm = _load(d)
    slot = sm.meta_graphs[0].object_graph_def.nodes[0].slot_variables.add()
    slot.original_variable_node_id = 1
    slot.slot_name = "m"
    slot.slot_variable_node_id = 500
    _store(d, sm)

    d = _case("asset_index_out_of_range", with_rest=False)
    sm = _load(d)
    node = sm.meta_graphs[0].object_graph_def.nodes.add()
    node.asset.asset_file_def_index = 3
    _store(d, sm)

    d = _case("unknown_concrete_function", with_rest=False)
    sm = _load(d)
    node = sm.meta_graphs[0].object_graph_def.nodes.add()
    node.bare_concrete_function.concrete_function_name = "__inference_missing_42"
    _store(d, sm)

    d = _case("bound_input_out_of_range", with_rest=False)
    sm = _load(d)
    og = sm.meta_graphs[0].object_graph_def
    og.concrete_functions["__inference_fn_1"].bound_inputs.append(777)
    _store(d, sm)

    d = _case("bad_signature_dim", with_rest=False)
    sm = _load(d)
    sig = sm.meta_graphs[0].signature_def["__saved_model_init_op"]
    out = sig.outputs["__saved_model_init_op"]
    out.tensor_shape.unknown_rank = False
    out.tensor_shape.dim.add().size = -5
    _store(d, sm)

    # StructuredValue nested 5000 deep (list_value = field 51, ListValue.values = field 1) as a
    # concrete function's output signature (field 4 of SavedConcreteFunction).
    d = _case("deep_nesting", with_rest=False)
    sm = _load(d)
    meta = sm.meta_graphs[0].SerializeToString(deterministic=True)
    value = b""
    for _ in range(5000):
        value = _field(51, _field(1, value))
    # SavedConcreteFunction.output_signature (4), as one more entry of
    # SavedObjectGraph.concrete_functions (2; map entry {key 1, value 2}) inside a second
    # occurrence of MetaGraphDef.object_graph_def (7), which protobuf merges into the first.
    entry = _field(1, b"__inference_deep_1") + _field(2, _field(4, value))
    meta += _field(7, _field(2, entry))
    raw = _varint(1 << 3) + _varint(sm.saved_model_schema_version) + _field(2, meta)
    (d / "saved_model.pb").write_bytes(raw)

    # A graph node whose attribute (NodeDef.attr, field 5: map entry {key 1, AttrValue 2}) is
    # not a valid AttrValue. Opening skips graph attributes; verify decodes them.
    d = _case("graph_attr_garbage")
    sm = _load(d)
    meta = sm.meta_graphs[0].SerializeToString(deterministic=True)
    node = _field(1, b"broken") + _field(2, b"Const") + _field(5, _field(1, b"value")
                                                              + _field(2, b"\xff\xff\xff"))
    meta += _field(2, _field(1, node))
    raw = _varint(1 << 3) + _varint(sm.saved_model_schema_version) + _field(2, meta)
    (d / "saved_model.pb").write_bytes(raw)

    d = _case("child_cycle")
    sm = _load(d)
    og = sm.meta_graphs[0].object_graph_def
    # The first layer points back at the root and at itself: legal for TF (object graphs may
    # have cycles), must not hang any walk.
    layer = og.nodes[0].children[0].node_id
    ref = og.nodes[layer].children.add()
    ref.node_id = 0
    ref.local_name = "back_to_root"
    ref = og.nodes[layer].children.add()
    ref.node_id = layer
    ref.local_name = "myself"
    _store(d, sm)

    d = _case("variable_not_in_bundle")
    sm = _load(d)
    og = sm.meta_graphs[0].object_graph_def
    ghost = len(og.nodes)
    node = og.nodes.add()
    node.variable.dtype = 1
    node.variable.name = "ghost"
    node.variable.shape.dim.add().size = 3
    ref = og.nodes[0].children.add()
    ref.node_id = ghost
    ref.local_name = "ghost"
    _store(d, sm)

    d = _case("missing_variable_key")
    reader = tf.train.load_checkpoint(str(BASE / "variables" / "variables"))
    names = sorted(reader.get_variable_to_shape_map())
    dropped = next(n for n in names if n.startswith("layer_with_weights-0/kernel"))
    keep = [n for n in names if n != dropped]
    for f in (d / "variables").iterdir():
        f.unlink()
    tf.raw_ops.SaveV2(prefix=str(d / "variables" / "variables"), tensor_names=keep,
                      shape_and_slices=[""] * len(keep),
                      tensors=[reader.get_tensor(n) for n in keep])

    d = _case("no_variables_dir")
    shutil.rmtree(d / "variables")

    d = _case("bundle_graph_out_of_range")
    reader = tf.train.load_checkpoint(str(BASE / "variables" / "variables"))
    names = sorted(reader.get_variable_to_shape_map())
    tensors = {n: reader.get_tensor(n) for n in names}
    g = trackable_object_graph_pb2.TrackableObjectGraph()
    g.ParseFromString(tensors[GRAPH_KEY])
    g.nodes[0].children[0].node_id = 4242
    tensors[GRAPH_KEY] = g.SerializeToString(deterministic=True)
    for f in (d / "variables").iterdir():
        f.unlink()
    tf.raw_ops.SaveV2(prefix=str(d / "variables" / "variables"), tensor_names=names,
                      shape_and_slices=[""] * len(names), tensors=[tensors[n] for n in names])

    def _metadata_case(name, edit):
        d = _case(name)
        md = saved_metadata_pb2.SavedMetadata()
        md.ParseFromString((d / "keras_metadata.pb").read_bytes())
        edit(md)
        (d / "keras_metadata.pb").write_bytes(md.SerializeToString(deterministic=True))

    def garbage_json(md):
        md.nodes[1].metadata = '{"class_name": "Dense", "config": {'

    def json_array(md):
        md.nodes[0].metadata = "[1, 2, 3]"

    def bad_node_id(md):
        md.nodes[2].node_id = 100000

    _metadata_case("keras_metadata_garbage_json", garbage_json)
    _metadata_case("keras_metadata_not_object", json_array)
    _metadata_case("keras_metadata_node_out_of_range", bad_node_id)

    d = _case("keras_metadata_truncated")
    raw = (d / "keras_metadata.pb").read_bytes()
    (d / "keras_metadata.pb").write_bytes(raw[: len(raw) - 7])

    d = _case("fingerprint_garbage")
    (d / "fingerprint.pb").write_bytes(b"\xff" * 16)

    d = HERE / "pbtxt_only"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    (d / "saved_model.pbtxt").write_text("saved_model_schema_version: 1\n")

    d = HERE / "cpb_only"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    (d / "saved_model.cpb").write_bytes(b"\x00" * 8)

    total = sum(f.stat().st_size for f in HERE.rglob("*") if f.is_file())
    print(f"{len([p for p in HERE.iterdir() if p.is_dir()])} cases, {total} bytes")


if __name__ == "__main__":
    sys.exit(main())
