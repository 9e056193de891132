#!/usr/bin/env python3
"""Regenerate the SavedModel fixtures under tests/data/saved_model/.

    python tests/data/saved_model/make_saved_model_fixtures.py            # every case
    python tests/data/saved_model/make_saved_model_fixtures.py tfk_seq    # only the named case(s)

Every SavedModel here is written by REAL TensorFlow 2.21 / tf_keras 2.21 / Keras 3.15.1 (CPU).
Each case directory ``<case>/`` holds the SavedModel in ``<case>/model/`` and ``expected.json``,
computed with TF's own protobuf classes and ``tf.train.load_checkpoint``:

```
{"description", "generator": {versions},
 "schema_version", "tags", "tensorflow_version",
 "signatures": {sig: {"method_name", "inputs"|"outputs": {key: {"name", "dtype", "shape"}}}},
        # dtype: tf.DType.name ("float32"), "invalid" for DT_INVALID; shape None = unknown rank
 "num_nodes", "kinds": [kind per node id], "children": [[[local_name, id], ...] per node],
 "function_library": [sorted names], "concrete_functions": [sorted names], "asset_files": [...],
 "variable_nodes": {node_id: {"name", "dtype", "shape", "trainable", "checkpoint_key"}},
        # checkpoint_key found by walking the SavedObjectGraph and the bundle's object graph
        # together from the root (children by local name, then slot variables)
 "variables": {key: {"dtype", "shape", "sha256"}},   # every key of variables/ (tf names)
 "keras_metadata": null | [{"node_id", "node_path", "identifier", "version", "class_name"}],
 "fingerprint": null | {...FingerprintDef fields...},
 "get_weights": [{"dtype", "shape", "sha256"}],       # tf_keras models only
 "predict": {"x": [...], "y": [...]}}                 # tf_keras models only
```
Seeds are fixed; tensor bytes are deterministic. The uuid in fingerprint.pb and the function
uids in saved_model.pb change on every run.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

assert tf.__version__.startswith("2.21"), f"fixtures are pinned to TF 2.21, got {tf.__version__}"

from tensorflow.core.protobuf import (  # noqa: E402
    fingerprint_pb2, saved_model_pb2, trackable_object_graph_pb2)

HERE = os.path.dirname(os.path.abspath(__file__))
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def _sha(arr):
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def _dtype_name(code):
    if code == 0:
        return "invalid"
    return tf.as_dtype(code).name


def _shape(shape_proto):
    if shape_proto.unknown_rank:
        return None
    return [d.size for d in shape_proto.dim]


def _tensor_info(ti):
    return {"name": ti.name, "dtype": _dtype_name(ti.dtype), "shape": _shape(ti.tensor_shape)}


def _match_graphs(sm_graph, ck_graph):
    """SavedObjectGraph node id -> bundle object-graph node id, walking both from the root."""
    mapping = {0: 0}
    queue = [0]
    while queue:
        s = queue.pop(0)
        c = mapping[s]
        ck_children = {r.local_name: r.node_id for r in ck_graph.nodes[c].children}
        for ref in sm_graph.nodes[s].children:
            if ref.local_name in ck_children and ref.node_id not in mapping:
                mapping[ref.node_id] = ck_children[ref.local_name]
                queue.append(ref.node_id)
    changed = True
    while changed:
        changed = False
        for s, node in enumerate(sm_graph.nodes):
            if s not in mapping:
                continue
            ck_slots = {(r.original_variable_node_id, r.slot_name): r.slot_variable_node_id
                        for r in ck_graph.nodes[mapping[s]].slot_variables}
            for r in node.slot_variables:
                orig = mapping.get(r.original_variable_node_id)
                key = (orig, r.slot_name)
                if orig is not None and key in ck_slots and r.slot_variable_node_id not in mapping:
                    mapping[r.slot_variable_node_id] = ck_slots[key]
                    changed = True
    return mapping


def describe(case_dir, description, keras_model=None, predict_x=None):
    model_dir = os.path.join(case_dir, "model")
    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    assert len(sm.meta_graphs) == 1
    mg = sm.meta_graphs[0]
    og = mg.object_graph_def
    out = {
        "description": description,
        "generator": {"tensorflow": tf.__version__, "numpy": np.__version__},
        "schema_version": sm.saved_model_schema_version,
        "tags": list(mg.meta_info_def.tags),
        "tensorflow_version": mg.meta_info_def.tensorflow_version,
        "signatures": {
            k: {"method_name": v.method_name,
                "inputs": {ik: _tensor_info(iv) for ik, iv in sorted(v.inputs.items())},
                "outputs": {ok: _tensor_info(ov) for ok, ov in sorted(v.outputs.items())}}
            for k, v in sorted(mg.signature_def.items())},
        "num_nodes": len(og.nodes),
        "kinds": [n.WhichOneof("kind") or "none" for n in og.nodes],
        "children": [[[c.local_name, c.node_id] for c in n.children] for n in og.nodes],
        "slot_variables": [[[r.original_variable_node_id, r.slot_name, r.slot_variable_node_id]
                            for r in n.slot_variables] for n in og.nodes],
        "identifiers": [n.user_object.identifier if n.HasField("user_object") else ""
                        for n in og.nodes],
        "registered_names": [n.registered_name for n in og.nodes],
        "function_library": sorted(f.signature.name for f in mg.graph_def.library.function),
        "concrete_functions": sorted(og.concrete_functions.keys()),
        "asset_files": [a.filename for a in mg.asset_file_def],
    }
    prefix = os.path.join(model_dir, "variables", "variables")
    reader = tf.train.load_checkpoint(prefix)
    ck = trackable_object_graph_pb2.TrackableObjectGraph()
    ck.ParseFromString(reader.get_tensor(GRAPH_KEY))
    out["bundle_graph_num_nodes"] = len(ck.nodes)
    mapping = _match_graphs(og, ck)
    out["bundle_graph_mirrors"] = all(mapping.get(i) == i for i in range(len(og.nodes)))
    variables = {}
    for key, dtype in sorted(reader.get_variable_to_dtype_map().items()):
        if key == GRAPH_KEY:
            variables[key] = {"dtype": "string", "shape": []}
            continue
        arr = reader.get_tensor(key)
        variables[key] = {"dtype": dtype.name, "shape": list(np.shape(arr)), "sha256": _sha(arr)}
    out["variables"] = variables
    var_nodes = {}
    for i, n in enumerate(og.nodes):
        if n.WhichOneof("kind") != "variable":
            continue
        v = n.variable
        key = None
        if i in mapping:
            for a in ck.nodes[mapping[i]].attributes:
                if a.name == "VARIABLE_VALUE":
                    key = a.checkpoint_key
        var_nodes[str(i)] = {"name": v.name, "dtype": _dtype_name(v.dtype),
                             "shape": _shape(v.shape), "trainable": v.trainable,
                             "synchronization": v.synchronization,
                             "aggregation": v.aggregation, "checkpoint_key": key}
    out["variable_nodes"] = var_nodes

    md_path = os.path.join(model_dir, "keras_metadata.pb")
    if os.path.exists(md_path):
        from tf_keras.protobuf import saved_metadata_pb2
        md = saved_metadata_pb2.SavedMetadata()
        with open(md_path, "rb") as f:
            md.ParseFromString(f.read())
        out["keras_metadata"] = [
            {"node_id": n.node_id, "node_path": n.node_path, "identifier": n.identifier,
             "version": [n.version.producer, n.version.min_consumer],
             "class_name": json.loads(n.metadata).get("class_name")}
            for n in md.nodes]
    else:
        out["keras_metadata"] = None

    fp_path = os.path.join(model_dir, "fingerprint.pb")
    if os.path.exists(fp_path):
        fp = fingerprint_pb2.FingerprintDef()
        with open(fp_path, "rb") as f:
            fp.ParseFromString(f.read())
        out["fingerprint"] = {
            "saved_model_checksum": fp.saved_model_checksum,
            "graph_def_program_hash": fp.graph_def_program_hash,
            "signature_def_hash": fp.signature_def_hash,
            "saved_object_graph_hash": fp.saved_object_graph_hash,
            "checkpoint_hash": fp.checkpoint_hash, "uuid": fp.uuid,
            "producer": fp.version.producer}
    else:
        out["fingerprint"] = None

    if keras_model is not None:
        out["get_weights"] = [{"dtype": w.dtype.name, "shape": list(w.shape), "sha256": _sha(w)}
                              for w in keras_model.get_weights()]
        if predict_x is not None:
            y = keras_model.predict(predict_x, verbose=0)
            out["predict"] = {"x": predict_x.tolist(), "y": np.asarray(y).tolist()}
    with open(os.path.join(case_dir, "expected.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


def _fresh(case):
    case_dir = os.path.join(HERE, case)
    shutil.rmtree(case_dir, ignore_errors=True)
    os.makedirs(case_dir)
    return case_dir, os.path.join(case_dir, "model")


def _tfk():
    import tf_keras
    tf_keras.utils.set_random_seed(1234)
    return tf_keras


def _train(model, x, y, steps=2):
    for i in range(steps):
        model.train_on_batch(x, y)


def case_tfk_seq(save_traces=True, name="tfk_seq"):
    tfk = _tfk()
    case_dir, model_dir = _fresh(name)
    model = tfk.Sequential([tfk.Input((3,), name="d1_input"),
                            tfk.layers.Dense(4, activation="relu", name="d1"),
                            tfk.layers.Dense(2, name="d2")], name="seq")
    model.compile(optimizer=tfk.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    x = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    y = np.ones((4, 2), np.float32)
    _train(model, x, y)
    model.save(model_dir, save_format="tf", save_traces=save_traces)
    describe(case_dir, f"tf_keras Sequential Dense(4 relu)+Dense(2), Adam trained 2 steps, "
             f"save_traces={save_traces}", model, x[:2])


def case_tfk_seq_notraces():
    case_tfk_seq(save_traces=False, name="tfk_seq_notraces")


def case_tfk_func_nested():
    tfk = _tfk()

    @tfk.utils.register_keras_serializable(package="Fixture")
    class Scale(tfk.layers.Layer):
        """A subclassed layer with a weight and a plain tracked attribute layer."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = tfk.layers.Dense(2, name="inner_dense")

        def build(self, input_shape):
            self.alpha = self.add_weight(name="alpha", shape=(), initializer="ones")
            super().build(input_shape)

        def call(self, x):
            return self.inner(x) * self.alpha

    case_dir, model_dir = _fresh("tfk_func_nested")
    inner = tfk.Sequential([tfk.layers.Dense(5, name="in_dense"),
                            tfk.layers.BatchNormalization(name="in_bn")], name="inner_seq")
    inp = tfk.Input((4,), name="x")
    h = inner(inp)
    seq_in = tfk.layers.Reshape((5, 1), name="reshape")(h)
    r = tfk.layers.LSTM(3, name="lstm")(seq_in)
    out = Scale(name="scale")(r)
    model = tfk.Model(inp, out, name="func_nested")
    model.compile(optimizer="sgd", loss="mse")
    x = (np.arange(24, dtype=np.float32).reshape(6, 4) - 10) / 10
    _train(model, x, np.zeros((6, 2), np.float32))
    model.save(model_dir, save_format="tf")
    describe(case_dir, "tf_keras functional model: nested Sequential(Dense, BatchNormalization), "
             "Reshape, LSTM, registered subclassed layer holding a Dense attribute; SGD trained "
             "2 steps", model, x[:2])


def case_tfk_legacy_opt():
    tfk = _tfk()
    case_dir, model_dir = _fresh("tfk_legacy_opt")
    model = tfk.Sequential([tfk.Input((3,)), tfk.layers.Dense(2, name="dense")], name="legacy")
    model.compile(optimizer=tfk.optimizers.legacy.Adam(0.01), loss="mse")
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 10
    _train(model, x, np.ones((2, 2), np.float32))
    model.save(model_dir, save_format="tf")
    describe(case_dir, "tf_keras Sequential Dense(2) with optimizers.legacy.Adam trained 2 steps "
             "(.OPTIMIZER_SLOT keys)", model, x)


def case_k3_export():
    # Keras 3 and tf_keras in one process is fine, but keep Keras 3 in its own interpreter so
    # its global state (backend, name scopes) cannot leak into the tf_keras cases.
    code = r"""
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np, keras
keras.utils.set_random_seed(1234)
m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                      keras.layers.Dense(2)])
m.export(sys.argv[1], verbose=False)
"""
    case_dir, model_dir = _fresh("k3_export")
    subprocess.run([sys.executable, "-c", code, model_dir], check=True)
    describe(case_dir, "Keras 3.15.1 model.export() of Sequential(Input(3), Dense(4 relu), Dense(2))")
    meta = json.load(open(os.path.join(case_dir, "expected.json")))
    import keras  # noqa: F401  (version only)
    meta["generator"]["keras"] = keras.__version__
    with open(os.path.join(case_dir, "expected.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")


def case_tf_module():
    case_dir, model_dir = _fresh("tf_module")
    tmp_vocab = os.path.join(case_dir, "vocab.txt")
    with open(tmp_vocab, "w") as f:
        f.write("a\nb\nc\n")

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.v = tf.Variable([1.0, 2.0, 3.0], name="v")
            self.asset = tf.saved_model.Asset(tmp_vocab)
            init = tf.lookup.TextFileInitializer(
                tmp_vocab, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
            self.table = tf.lookup.StaticHashTable(init, -1)
            self.c = tf.constant([7, 8], dtype=tf.int32)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
        def lookup(self, words):
            return {"ids": self.table.lookup(words), "scaled": self.v * 2.0}

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def dot(self, x):
            return tf.linalg.matvec(x, self.v) + tf.cast(tf.reduce_sum(self.c), tf.float32)

    m = M()
    tf.saved_model.save(m, model_dir, signatures={"serving_default": m.lookup,
                                                  "dot": m.dot})
    os.remove(tmp_vocab)
    describe(case_dir, "tf.Module: variable, Asset, StaticHashTable from a text file, "
             "a constant, two tf.functions with signatures")


CASES = {
    "tfk_seq": case_tfk_seq,
    "tfk_seq_notraces": case_tfk_seq_notraces,
    "tfk_func_nested": case_tfk_func_nested,
    "tfk_legacy_opt": case_tfk_legacy_opt,
    "k3_export": case_k3_export,
    "tf_module": case_tf_module,
}


def main(argv):
    names = argv or list(CASES)
    for name in names:
        print("case", name, flush=True)
        CASES[name]()
    total = 0
    for root, _, files in os.walk(HERE):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print(f"total size {total} bytes")
    assert total < 2_500_000, "fixtures grew past the budget"


if __name__ == "__main__":
    main(sys.argv[1:])
