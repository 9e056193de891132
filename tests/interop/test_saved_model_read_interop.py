"""The SavedModel reader against real TensorFlow 2.21 on a freshly saved ``tf.Module``:

* every variable node's ``checkpoint_key`` holds the value TF's own loader restores into the
  object at that node's path (``tf.saved_model.load`` + walking the path), so the mapping of
  the object graph onto ``variables/`` is the one TF uses;
* ``kerasave inspect`` prints the signatures exactly as ``saved_model_cli show --all`` does
  (up to its concrete-function section, which needs TF to trace; the op set is compared as a set).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

tf = pytest.importorskip("tensorflow")

import kerasave as ks  # noqa: E402
from kerasave._saved_model import format_signatures  # noqa: E402

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tf.Module with nested modules, a list, a dict, several dtypes and two signatures."""
    assert tf.__version__.startswith("2.21"), tf.__version__
    path = str(tmp_path_factory.mktemp("sm") / "module")

    class Inner(tf.Module):
        def __init__(self, seed):
            super().__init__()
            rng = np.random.default_rng(seed)
            self.w = tf.Variable(rng.standard_normal((3, 2)).astype(np.float32), name="w")
            self.h = tf.Variable(rng.standard_normal(4).astype(np.float16), name="h",
                                 trainable=False)

    class Outer(tf.Module):
        def __init__(self):
            super().__init__()
            self.a = Inner(1)
            self.b = Inner(2)
            self.shared = self.a  # the same object under two names
            self.items = [tf.Variable(np.arange(5, dtype=np.int64)), Inner(3)]
            self.table = {"x": tf.Variable(True), "y.z/w": tf.Variable(b"bytes")}
            self.step = tf.Variable(7, dtype=tf.int32)
            self.bf = tf.Variable(tf.constant([1.5, -2.0], dtype=tf.bfloat16))

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def predict(self, x):
            return {"y": tf.matmul(x, self.a.w), "n": tf.shape(x)[0]}

        @tf.function(input_signature=[tf.TensorSpec([], tf.int64), tf.TensorSpec(None, tf.string)])
        def other(self, k, s):
            return tf.strings.length(s) + tf.cast(k, tf.int32) + self.step

    module = Outer()
    module.step.assign_add(1)
    tf.saved_model.save(module, path, signatures={"serving_default": module.predict,
                                                  "other": module.other})
    return path


def _walk(obj, path):
    for name in path:
        if isinstance(obj, dict) or hasattr(obj, "keys") and not hasattr(obj, name):
            obj = obj[name]
        elif name.isdigit() and not hasattr(obj, name):
            obj = obj[int(name)]
        else:
            obj = getattr(obj, name)
    return obj


def _bfs_paths(nodes):
    paths = {0: []}
    queue = [0]
    while queue:
        node = queue.pop(0)
        for name, child in nodes[node]["children"]:
            if child not in paths:
                paths[child] = paths[node] + [name]
                queue.append(child)
    return paths


def test_variable_keys_hold_what_tf_restores(saved):
    loaded = tf.saved_model.load(saved)
    with ks.open(saved) as store:
        nodes = store.saved_model["nodes"]
        paths = _bfs_paths(nodes)
        variables = [n for n in nodes if n["kind"] == "variable"]
        assert len(variables) == 11
        for node in variables:
            var = _walk(loaded, paths[node["id"]])
            want = var.numpy()
            got = store[node["checkpoint_key"]]
            assert node["variable"]["dtype"] == var.dtype.name
            assert list(node["variable"]["shape"]) == list(var.shape)
            assert node["variable"]["trainable"] == var.trainable
            if isinstance(want, bytes):
                assert got.item() == want
            else:
                np.testing.assert_array_equal(got, want)
        # the aliased module is one node reached under two names
        root_children = dict(nodes[0]["children"])
        assert root_children["a"] == root_children["shared"]
        assert store[[n for n in variables if paths[n["id"]] == ["step"]][0]["checkpoint_key"]] == 8


def test_signatures_match_tf(saved):
    loaded = tf.saved_model.load(saved)
    with ks.open(saved) as store:
        sigs = store.signatures
    fn = loaded.signatures["serving_default"]
    (spec,) = fn.structured_input_signature[1].values()
    assert sigs["serving_default"]["inputs"]["x"]["shape"] == [-1, 3]
    assert sigs["serving_default"]["inputs"]["x"]["dtype"] == spec.dtype.name == "float32"
    outs = fn.structured_outputs
    assert set(sigs["serving_default"]["outputs"]) == set(outs) == {"y", "n"}
    for key, spec in outs.items():
        got = sigs["serving_default"]["outputs"][key]
        assert got["dtype"] == spec.dtype.name
        assert got["shape"] == (None if spec.shape.rank is None else
                                [-1 if d is None else d for d in spec.shape.as_list()])
    other = sigs["other"]["inputs"]
    assert other["s"]["shape"] is None and other["s"]["dtype"] == "string"
    assert other["k"]["shape"] == [] and other["k"]["dtype"] == "int64"


def test_inspect_matches_saved_model_cli(saved):
    cli = [sys.executable, "-c",
           "import sys; from tensorflow.python.tools.saved_model_cli import main; "
           "sys.argv = ['saved_model_cli', 'show', '--all', '--dir', sys.argv[1]]; main()",
           saved]
    out = subprocess.run(cli, check=True, capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}).stdout
    theirs = out.split("\nConcrete Functions:")[0].strip()
    with ks.open(saved) as store:
        ours = format_signatures(store.signatures, store.saved_model["tags"],
                                 store.saved_model["ops"]).strip()
    head_theirs, _, ops_theirs = theirs.rpartition("ops: ")
    head_ours, _, ops_ours = ours.rpartition("ops: ")
    assert head_ours == head_theirs
    assert ast.literal_eval(ops_ours) == ast.literal_eval(ops_theirs)
