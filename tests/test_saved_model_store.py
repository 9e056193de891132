"""``ks.open(saved_model_dir)`` and ``_core.read_saved_model`` against real SavedModels.

Fixtures (``tests/data/saved_model/``) were written by TF 2.21, tf_keras 2.21 and Keras 3.15.1;
``expected.json`` beside each was computed with TF's own protobuf classes and
``tf.train.load_checkpoint`` (see ``make_saved_model_fixtures.py``). No TF is imported here.
Malformed cases (``tests/data/bad_saved_model/``) are pinned to exact errors.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import kerasave as ks
from kerasave import _core, cli
from kerasave._saved_model import SavedModelStore, format_signatures
from kerasave.errors import CorruptFileError, UnsupportedFormatError

DATA = Path(__file__).resolve().parent / "data"
GOOD = DATA / "saved_model"
BAD = DATA / "bad_saved_model"
CASES = sorted(p.name for p in GOOD.iterdir() if (p / "expected.json").is_file())
TF_KERAS_CASES = [c for c in CASES if c.startswith("tfk_")]


def expected(case: str) -> dict:
    return json.loads((GOOD / case / "expected.json").read_text())


def model_dir(case: str) -> str:
    return str(GOOD / case / "model")


def test_all_cases_present():
    assert CASES == ["k3_export", "tf_module", "tfk_func_nested", "tfk_legacy_opt", "tfk_seq",
                     "tfk_seq_notraces"]


@pytest.mark.parametrize("case", CASES)
def test_read_saved_model_matches_tf(case):
    exp = expected(case)
    got = _core.read_saved_model(model_dir(case))
    assert got["schema_version"] == exp["schema_version"] == 1
    assert got["tags"] == exp["tags"]
    assert got["tensorflow_version"] == exp["tensorflow_version"]
    assert got["signatures"] == exp["signatures"]
    nodes = got["nodes"]
    assert len(nodes) == exp["num_nodes"]
    assert [n["id"] for n in nodes] == list(range(len(nodes)))
    assert [n["kind"] for n in nodes] == exp["kinds"]
    assert [[list(c) for c in n["children"]] for n in nodes] == exp["children"]
    assert [[list(s) for s in n["slot_variables"]] for n in nodes] == exp["slot_variables"]
    assert [n["identifier"] for n in nodes] == exp["identifiers"]
    assert [n["registered_name"] for n in nodes] == exp["registered_names"]
    assert got["function_library"] == exp["function_library"]
    assert got["concrete_functions"] == exp["concrete_functions"]
    assert got["asset_files"] == exp["asset_files"]
    assert got["fingerprint"] == exp["fingerprint"]
    variables = {str(n["id"]): {**n["variable"], "checkpoint_key": n["checkpoint_key"]}
                 for n in nodes if n["kind"] == "variable"}
    assert variables == exp["variable_nodes"]
    for n in nodes:
        if n["kind"] != "variable":
            assert n["variable"] is None and n["checkpoint_key"] is None
    if exp["keras_metadata"] is None:
        assert got["keras_metadata"] is None
    else:
        md = [{"node_id": m["node_id"], "node_path": m["node_path"],
               "identifier": m["identifier"], "version": list(m["version"]),
               "class_name": json.loads(m["metadata"]).get("class_name")}
              for m in got["keras_metadata"]]
        assert md == exp["keras_metadata"]


@pytest.mark.parametrize("case", CASES)
def test_store_tensors_match_tf(case):
    exp = expected(case)
    with ks.open(model_dir(case)) as store:
        assert isinstance(store, SavedModelStore)
        assert store.format == "saved_model"
        assert sorted(store.keys()) == sorted(exp["variables"])
        for key, want in exp["variables"].items():
            assert store.dtype_name(key) == want["dtype"]
            assert list(store.shape(key)) == want["shape"]
            if "sha256" in want:
                arr = store[key]
                assert hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest() \
                    == want["sha256"], key
                assert not arr.flags.writeable
                assert isinstance(arr.base, _core.MappedBuffer)
        # every variable node's key is in the store
        for node in store.saved_model["nodes"]:
            if node["kind"] == "variable":
                assert node["checkpoint_key"] in store
        store.verify()


@pytest.mark.parametrize("case", TF_KERAS_CASES)
def test_get_weights_are_stored_variables(case):
    """Every array of tf_keras ``model.get_weights()`` is a variable of the SavedModel."""
    exp = expected(case)
    with ks.open(model_dir(case)) as store:
        stored = {(hashlib.sha256(np.ascontiguousarray(store[k]).tobytes()).hexdigest(),
                   tuple(store.shape(k))) for k in store if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}
    for w in exp["get_weights"]:
        assert (w["sha256"], tuple(w["shape"])) in stored


@pytest.mark.parametrize("case", CASES)
def test_config_and_metadata(case):
    exp = expected(case)
    with ks.open(model_dir(case)) as store:
        meta = store.metadata
        assert meta["tags"] == ["serve"]
        assert meta["tensorflow_version"] == "2.21.0"
        assert meta["signatures"] == sorted(exp["signatures"])
        assert meta["fingerprint"] == exp["fingerprint"]
        assert store.signatures == exp["signatures"]
        if case.startswith("tfk_"):
            cls = {"tfk_func_nested": "Functional"}.get(case, "Sequential")
            assert store.config["class_name"] == cls
            assert isinstance(store.config["config"], dict)
            assert meta["keras_version"] == "2.21.0"
            assert store.keras_metadata[0]["metadata"]["class_name"] == cls
        else:
            assert store.config is None
            assert store.keras_metadata is None


def test_nested_model_config():
    with ks.open(model_dir("tfk_func_nested")) as store:
        layers = store.config["config"]["layers"]
        names = [layer["config"]["name"] for layer in layers]
        assert names == ["x", "inner_seq", "reshape", "lstm", "scale"]
        assert layers[-1]["class_name"] == "Fixture>Scale"
        inner = layers[1]["config"]["layers"]
        assert [layer["class_name"] for layer in inner][-2:] == ["Dense", "BatchNormalization"]


def test_legacy_optimizer_slot_keys():
    with ks.open(model_dir("tfk_legacy_opt")) as store:
        slots = [k for k in store if ".OPTIMIZER_SLOT" in k]
        assert sorted(slots) == sorted(
            f"layer_with_weights-0/{w}/.OPTIMIZER_SLOT/optimizer/{s}/.ATTRIBUTES/VARIABLE_VALUE"
            for w in ("kernel", "bias") for s in ("m", "v"))


def test_open_saved_model_pb_path():
    pb = os.path.join(model_dir("tfk_seq"), "saved_model.pb")
    assert ks.storage.sniff(pb) == "saved_model"
    with ks.open(pb) as a, ks.open(model_dir("tfk_seq")) as b:
        assert a.keys() == b.keys()
        assert a.saved_model == b.saved_model


def test_closed_store_and_arrays_outlive_it():
    store = ks.open(model_dir("tfk_seq"))
    key = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    arr = store[key]
    store.close()
    assert arr.shape == (3, 4)
    with pytest.raises(ValueError, match="closed"):
        store[key]


def test_missing_saved_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        _core.read_saved_model(str(tmp_path / "empty"))


def test_oversized_pb_refused_before_mapping(tmp_path):
    d = tmp_path / "huge"
    d.mkdir()
    with open(d / "saved_model.pb", "wb") as f:
        f.truncate((2 << 30) + 1)  # sparse
    with pytest.raises(UnsupportedFormatError, match="over protobuf's 2 GiB message limit"):
        ks.open(d)


# -- CLI ------------------------------------------------------------------------------------

def test_cli_inspect_prints_signatures(capsys):
    code = cli.main(["inspect", model_dir("tfk_seq")])
    out = capsys.readouterr().out
    assert code == 0
    assert "format:  saved_model" in out
    assert "config:  Sequential 'seq', 3 layers" in out
    assert "MetaGraphDef with tag-set: 'serve' contains the following SignatureDefs:" in out
    block = out[out.index("signature_def['serving_default']:"):]
    assert block.splitlines()[:11] == [
        "signature_def['serving_default']:",
        "  The given SavedModel SignatureDef contains the following input(s):",
        "    inputs['d1_input'] tensor_info:",
        "        dtype: DT_FLOAT",
        "        shape: (-1, 3)",
        "        name: serving_default_d1_input:0",
        "  The given SavedModel SignatureDef contains the following output(s):",
        "    outputs['d2'] tensor_info:",
        "        dtype: DT_FLOAT",
        "        shape: (-1, 2)",
        "        name: StatefulPartitionedCall:0",
    ]
    assert "  Method name is: tensorflow/serving/predict" in block
    assert "contains the following ops: {" in block and "'MatMul'" in block


def test_cli_inspect_json(capsys):
    code = cli.main(["inspect", "--json", model_dir("tf_module")])
    info = json.loads(capsys.readouterr().out)
    assert code == 0
    assert info["signatures"] == expected("tf_module")["signatures"]
    assert info["metadata"]["asset_files"] == ["vocab.txt", "vocab.txt"]


def test_format_signatures_shapes():
    sigs = {"s": {"method_name": "m", "inputs": {
        "a": {"name": "a:0", "dtype": "string", "shape": []},
        "b": {"name": "b:0", "dtype": "float16", "shape": [7]},
        "c": {"name": "c:0", "dtype": "int64", "shape": None}}, "outputs": {}}}
    text = format_signatures(sigs, ["serve"])
    assert "        dtype: DT_STRING\n        shape: ()\n" in text
    assert "        dtype: DT_HALF\n        shape: (7)\n" in text
    assert "        dtype: DT_INT64\n        shape: unknown_rank\n" in text


def test_cli_verify(capsys):
    assert cli.main(["verify", model_dir("tfk_func_nested")]) == 0
    assert "OK:" in capsys.readouterr().out
    assert cli.main(["verify", str(BAD / "missing_variable_key")]) != 0


def test_cli_verify_finds_flipped_byte(tmp_path, capsys):
    d = tmp_path / "m"
    shutil.copytree(model_dir("tfk_seq"), d)
    data = d / "variables" / "variables.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[100] ^= 0x40
    data.write_bytes(bytes(raw))
    assert cli.main(["verify", str(d)]) == 1
    assert "CORRUPT" in capsys.readouterr().out


# -- malformed SavedModels --------------------------------------------------------------------

BAD_CASES = {
    "truncated_pb": (CorruptFileError, "bad SavedModel protobuf"),
    "garbage_pb": (CorruptFileError, "bad SavedModel protobuf"),
    "empty_pb": (CorruptFileError, "SavedModel has no MetaGraphDef"),
    "schema_version_2": (UnsupportedFormatError, "saved_model_schema_version 2 (only 1 exists)"),
    "two_meta_graphs": (UnsupportedFormatError, "2 MetaGraphDefs (tags [serve] [serve,gpu])"),
    "tf1_no_object_graph": (UnsupportedFormatError, "the MetaGraphDef has no object_graph_def"),
    "empty_object_graph": (CorruptFileError, "the object graph has no nodes (no root)"),
    "child_out_of_range": (CorruptFileError,
                           'object graph node 0 child "layer-0": node id 9999 out of range '
                           "(the object graph has 24 nodes)"),
    "child_negative": (CorruptFileError, 'child "layer_with_weights-0": node id -1 out of range'),
    "slot_out_of_range": (CorruptFileError,
                          'object graph node 0 slot variable "m": node id 500 out of range'),
    "asset_index_out_of_range": (CorruptFileError,
                                 "object graph node 24: asset_file_def_index 3 out of range "
                                 "(0 asset files)"),
    "unknown_concrete_function": (CorruptFileError,
                                  'concrete function "__inference_missing_42" is not in the '
                                  "object graph's concrete_functions"),
    "bound_input_out_of_range": (CorruptFileError,
                                 'concrete function "__inference_fn_1" bound input: node id 777'),
    "bad_signature_dim": (CorruptFileError,
                          'signature "__saved_model_init_op" output "__saved_model_init_op": '
                          "dimension -5 < -1"),
    "deep_nesting": (CorruptFileError, "recursion limit reached"),
    "variable_not_in_bundle": (CorruptFileError,
                               'variable node 24 ("ghost", path "ghost") has no value in '
                               "variables/"),
    "missing_variable_key": (CorruptFileError,
                             'variable node 5 ("d1/kernel", path "layer_with_weights-0/kernel"): '
                             'key "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE" is '
                             "missing from variables/"),
    "no_variables_dir": (CorruptFileError,
                         "the object graph has variables but variables/variables.index is "
                         "missing"),
    "bundle_graph_out_of_range": (CorruptFileError,
                                  'checkpoint object graph node 0 child "layer_with_weights-0": '
                                  "node id 4242 out of range"),
    "keras_metadata_garbage_json": (CorruptFileError,
                                    "node 'root.layer_with_weights-0' (id 1): metadata is not "
                                    "valid JSON"),
    "keras_metadata_not_object": (CorruptFileError,
                                  "node 'root' (id 0): metadata is a JSON list, expected an "
                                  "object"),
    "keras_metadata_node_out_of_range": (CorruptFileError,
                                         'keras metadata node "root.layer_with_weights-1": '
                                         "node id 100000 out of range"),
    "keras_metadata_truncated": (CorruptFileError, "bad SavedMetadata protobuf"),
    "fingerprint_garbage": (CorruptFileError, "bad FingerprintDef protobuf"),
    "pbtxt_only": (UnsupportedFormatError, "saved_model.pbtxt (text-format SavedModel)"),
    "cpb_only": (UnsupportedFormatError, "saved_model.cpb (chunked SavedModel"),
}

#: File each error must name (relative to the case directory; "" = the directory itself).
BAD_FILES = {
    "variable_not_in_bundle": "variables/variables.index",
    "missing_variable_key": "variables/variables.index",
    "bundle_graph_out_of_range": "variables/variables.index",
    "no_variables_dir": "",
    "keras_metadata_garbage_json": "keras_metadata.pb",
    "keras_metadata_not_object": "keras_metadata.pb",
    "keras_metadata_node_out_of_range": "keras_metadata.pb",
    "keras_metadata_truncated": "keras_metadata.pb",
    "fingerprint_garbage": "fingerprint.pb",
    "pbtxt_only": "saved_model.pbtxt",
    "cpb_only": "saved_model.cpb",
}


def test_every_bad_case_has_a_test():
    dirs = {p.name for p in BAD.iterdir() if p.is_dir()}
    assert dirs == set(BAD_CASES) | {"child_cycle", "graph_attr_garbage"}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_saved_model(case):
    cls, fragment = BAD_CASES[case]
    with pytest.raises(cls) as info:
        ks.open(BAD / case)
    assert type(info.value) is cls
    message = str(info.value)
    assert fragment in message
    named = os.path.join(str(BAD / case), BAD_FILES.get(case, "saved_model.pb")).rstrip("/")
    assert message.startswith(named + ":"), message
    assert len(message) < 600


def test_bad_saved_model_cli_exit_codes(capsys):
    assert cli.main(["verify", str(BAD / "child_out_of_range")]) == 1
    assert cli.main(["inspect", str(BAD / "garbage_pb")]) == 1
    assert cli.main(["inspect", str(BAD / "two_meta_graphs")]) == 2
    capsys.readouterr()


def test_child_cycle_reads():
    """Object graphs may have cycles (TF saves them); walks terminate and keys stay right."""
    with ks.open(BAD / "child_cycle") as store:
        nodes = store.saved_model["nodes"]
        layer = nodes[0]["children"][0][1]
        assert ("back_to_root", 0) in nodes[layer]["children"]
        assert ("myself", layer) in nodes[layer]["children"]
        keys = {n["checkpoint_key"] for n in nodes if n["kind"] == "variable"}
        assert "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE" in keys
        store.verify()


def test_verify_decodes_what_open_skips(capsys):
    """Opening decodes only the graph's op types; verify decodes every attribute."""
    case = BAD / "graph_attr_garbage"
    with ks.open(case) as store:
        assert len(store) == 15
        with pytest.raises(CorruptFileError) as info:
            store.verify()
    message = str(info.value)
    assert message.startswith(str(case / "saved_model.pb") + ": bad SavedModel protobuf")
    assert "NodeDef.attr" in message
    assert cli.main(["verify", str(case)]) == 1
    assert cli.main(["inspect", str(case)]) == 0
    capsys.readouterr()


def _pb_field(tag: int, payload: bytes) -> bytes:
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)
    return varint(tag << 3 | 2) + varint(len(payload)) + payload


def test_deeply_nested_metadata_json(tmp_path):
    """Metadata JSON nested past Python's recursion limit is a CorruptFileError, not a crash."""
    d = tmp_path / "m"
    shutil.copytree(model_dir("tfk_seq_notraces"), d)
    deep = ("[" * 200_000 + "]" * 200_000).encode()
    # SavedMetadata.nodes (1): SavedObject {node_id 2 = 0 (default), node_path 3, metadata 5}
    node = _pb_field(3, b"root") + _pb_field(5, deep)
    (d / "keras_metadata.pb").write_bytes(_pb_field(1, node))
    with pytest.raises(CorruptFileError, match="node 'root' \\(id 0\\): metadata is not valid JSON"):
        ks.open(d)
