#!/usr/bin/env python3
"""Regenerate the TensorFlow checkpoint fixtures under tests/data/tf/ and the bundled demo sample.

    python tests/data/make_tf_fixtures.py            # every case
    python tests/data/make_tf_fixtures.py dtypes     # only the named case(s)

Every checkpoint here is written by REAL TensorFlow (pinned to 2.21, tf_keras 2.21). For each case
directory the script also writes ``expected.json``, computed with ``tf.train.load_checkpoint``:
for every key the numpy/ml_dtypes dtype name, TF's dtype name, the shape and either the sha256
of the array's bytes (fixed-size dtypes) or the list of hex strings (string tensors, C order),
plus the decoded ``_CHECKPOINTABLE_OBJECT_GRAPH`` for object-based checkpoints.

Seeds are fixed; the tensor bytes are deterministic. The CheckpointManager ``checkpoint`` state
file contains wall-clock timestamps, so it changes on every run.
"""
import hashlib
import json
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import ml_dtypes  # noqa: E402
import tensorflow as tf  # noqa: E402

assert tf.__version__.startswith("2.21"), f"fixtures are pinned to TF 2.21, got {tf.__version__}"

# Three logical CPUs (for the multi-device TF1 Saver case); must happen before any op runs.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(3)])

import tf_keras  # noqa: E402
from tensorflow.core.protobuf import trackable_object_graph_pb2  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "tf")
DEMO = os.path.join(HERE, "..", "..", "python", "kerasave", "data", "demo")
XDT = tf.dtypes.experimental

print(f"tensorflow {tf.__version__}, tf_keras {tf_keras.__version__}, numpy {np.__version__}, "
      f"ml_dtypes {ml_dtypes.__version__}")


# --------------------------------------------------------------------------------------------
# expected.json
# --------------------------------------------------------------------------------------------

def describe_tensor(arr, tf_dtype):
    # TF returns a scalar string as plain bytes; np.asarray would make it an "S" array and drop
    # trailing NUL bytes, so strings always go through object arrays.
    arr = np.asarray(arr, dtype=object) if tf_dtype == "string" else np.asarray(arr)
    d = {"dtype": "string" if tf_dtype == "string" else arr.dtype.name,
         "tf_dtype": tf_dtype, "shape": list(arr.shape)}
    if tf_dtype == "string":
        flat = arr.reshape(-1) if arr.ndim else [arr.item()]
        d["strings"] = [bytes(s).hex() for s in flat]
    else:
        d["nbytes"] = int(arr.nbytes)
        d["sha256"] = hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()
    return d


def describe_graph(raw):
    g = trackable_object_graph_pb2.TrackableObjectGraph()
    g.ParseFromString(raw)
    nodes = []
    for n in g.nodes:
        nodes.append({
            "children": [[c.node_id, c.local_name] for c in n.children],
            "attributes": [[a.name, a.full_name, a.checkpoint_key] for a in n.attributes],
            "slot_variables": [[s.original_variable_node_id, s.slot_name, s.slot_variable_node_id]
                               for s in n.slot_variables],
            "has_checkpoint_values": (n.has_checkpoint_values.value
                                      if n.HasField("has_checkpoint_values") else None),
        })
    return {"num_nodes": len(g.nodes), "nodes": nodes}


def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def _sstable_block(b):
    n = int.from_bytes(b[-4:], "little")
    end, i, key, out = len(b) - 4 - 4 * n, 0, b"", []
    while i < end:
        shared, i = _varint(b, i)
        unshared, i = _varint(b, i)
        vlen, i = _varint(b, i)
        key = key[:shared] + b[i:i + unshared]
        i += unshared
        out.append((key, b[i:i + vlen]))
        i += vlen
    return out


def index_entries(prefix):
    """Raw (key bytes, BundleEntryProto) pairs of P.index; a minimal SSTable reader (no CRC
    checks: TF wrote these files a moment ago)."""
    from tensorflow.core.protobuf import tensor_bundle_pb2
    with open(prefix + ".index", "rb") as f:
        d = f.read()
    footer, i = d[-48:], 0
    for _ in range(2):
        _, i = _varint(footer, i)
    off, i = _varint(footer, i)
    size, i = _varint(footer, i)
    out = []
    for _, handle in _sstable_block(d[off:off + size]):
        o, j = _varint(handle, 0)
        n, j = _varint(handle, j)
        for k, v in _sstable_block(d[o:o + n]):
            if k:
                e = tensor_bundle_pb2.BundleEntryProto()
                e.ParseFromString(v)
                out.append((k, e))
    return out


def describe_checkpoint(prefix):
    entries = index_entries(prefix)
    slices = {k.decode("utf-8"): len(e.slices) for k, e in entries if e.slices}
    r = tf.train.load_checkpoint(prefix)
    dtypes = r.get_variable_to_dtype_map()
    shapes = r.get_variable_to_shape_map()
    tensors = {}
    for key in sorted(shapes, key=lambda k: k.encode("utf-8")):
        arr = r.get_tensor(key)
        tensors[key] = describe_tensor(arr, dtypes[key].name)
        assert tensors[key]["shape"] == list(shapes[key]), key
    data_files = sorted(f for f in os.listdir(os.path.dirname(prefix) or ".")
                        if f.startswith(os.path.basename(prefix) + ".data-"))
    out = {"num_shards": len(data_files), "data_files": data_files, "tensors": tensors,
           "partitioned": slices,
           "num_slice_entries": sum(1 for k, _ in entries if k.startswith(b"\x00"))}
    if "_CHECKPOINTABLE_OBJECT_GRAPH" in shapes:
        out["object_graph"] = describe_graph(r.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    return out


def write_expected(case_dir, description, prefixes, latest=None, extra=None):
    doc = {
        "description": description,
        "generator": {"tensorflow": tf.__version__, "tf_keras": tf_keras.__version__,
                      "numpy": np.__version__, "ml_dtypes": ml_dtypes.__version__},
        "latest": latest,
        "checkpoints": {p: describe_checkpoint(os.path.join(case_dir, p)) for p in prefixes},
    }
    if extra:
        doc.update(extra)
    with open(os.path.join(case_dir, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def seed(n=0):
    tf_keras.utils.set_random_seed(n)
    tf.random.set_seed(n)
    np.random.seed(n)


# --------------------------------------------------------------------------------------------
# (a) every dtype, raw SaveV2 (name-based, no object graph) + the same via tf.train.Checkpoint
# --------------------------------------------------------------------------------------------

def dtype_tensors():
    rng = np.random.default_rng(1234)
    t = {}  # name -> tf tensor, insertion order = data order

    def f(name, arr, dtype=None):
        t[name] = tf.constant(arr, dtype=dtype) if dtype is not None else tf.constant(arr)

    special = [0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, np.nan, 65504.0]
    f("float/float16", np.array(special + list(rng.standard_normal(8)), np.float16).reshape(4, 4))
    f("float/bfloat16", np.array(special + list(rng.standard_normal(4)), ml_dtypes.bfloat16)
      .reshape(3, 4))
    f("float/float32", np.concatenate([np.array(special, np.float32),
                                       rng.standard_normal(40).astype(np.float32)]).reshape(6, 8))
    f("float/float64", np.concatenate([np.array(special + [5e-324, 1.7976931348623157e308]),
                                       rng.standard_normal(10)]).reshape(4, 5))
    for name in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]:
        info = np.iinfo(name)
        vals = np.concatenate([np.array([info.min, info.max, 0, 1], dtype=name),
                               rng.integers(info.min, info.max, 12, dtype=name, endpoint=True)])
        f(f"int/{name}", vals.reshape(2, 8))
    f("bool", np.array([[True, False, True], [False, False, True]]))
    f("complex/complex64", (rng.standard_normal(6) + 1j * rng.standard_normal(6))
      .astype(np.complex64).reshape(2, 3))
    f("complex/complex128", np.array([1 + 2j, -0.0 - 1j, complex(np.inf, np.nan), 3.25 - 4.5j]))
    # quantized: stored like their base type
    t["quant/qint8"] = tf.bitcast(tf.constant([-128, -1, 0, 1, 127], tf.int8), tf.qint8)
    t["quant/quint8"] = tf.bitcast(tf.constant([0, 1, 128, 255], tf.uint8), tf.quint8)
    t["quant/qint16"] = tf.bitcast(tf.constant([-32768, -1, 7, 32767], tf.int16), tf.qint16)
    t["quant/quint16"] = tf.bitcast(tf.constant([0, 1, 65535], tf.uint16), tf.quint16)
    t["quant/qint32"] = tf.bitcast(tf.constant([[-2**31, -1], [5, 2**31 - 1]], tf.int32), tf.qint32)
    # 8-bit floats and sub-byte types (unpacked, one element per byte)
    for name in ["float8_e5m2", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz",
                 "float8_e5m2fnuz"]:
        npd = getattr(ml_dtypes, name)
        f(f"float8/{name}", np.array([0.0, 1.0, -1.5, 0.25, 2.0, -3.0, 0.5, 4.0], npd).reshape(2, 4),
          getattr(XDT, name))
    f("sub_byte/int4", np.array([-8, -1, 0, 1, 7, 3], ml_dtypes.int4), XDT.int4)
    f("sub_byte/uint4", np.array([0, 1, 8, 15, 7], ml_dtypes.uint4), XDT.uint4)
    f("sub_byte/int2", np.array([-2, -1, 0, 1], ml_dtypes.int2), XDT.int2)
    f("sub_byte/uint2", np.array([0, 1, 2, 3], ml_dtypes.uint2), XDT.uint2)
    f("sub_byte/float4_e2m1fn", np.array([0.0, 1.0, -1.0, 6.0, 0.5], ml_dtypes.float4_e2m1fn),
      XDT.float4_e2m1fn)
    # strings
    t["string/mixed"] = tf.constant([b"hello", b"", b"w\x00rld", b"\xff\xfe\x00\xff",
                                     b"x" * 200, "caf\u00e9 \u2603".encode()])
    t["string/matrix"] = tf.constant([[b"a", b"bc"], [b"\x00", b"d" * 130]])
    t["string/scalar"] = tf.constant(b"scalar \x00 string \xff")
    t["string/empty_scalar"] = tf.constant(b"")
    t["string/empty"] = tf.zeros([0], tf.string)
    t["string/empty_0x3"] = tf.zeros([0, 3], tf.string)
    # scalars and empties
    t["scalar/float32"] = tf.constant(3.5, tf.float32)
    t["scalar/int64"] = tf.constant(-(2**40), tf.int64)
    t["scalar/bool"] = tf.constant(True)
    t["scalar/bfloat16"] = tf.constant(np.array(-2.5, ml_dtypes.bfloat16))
    t["empty/float32_0x3"] = tf.zeros([0, 3], tf.float32)
    t["empty/int64_0"] = tf.zeros([0], tf.int64)
    t["empty/float16_2x0x4"] = tf.zeros([2, 0, 4], tf.float16)
    t["shape/rank5_float32"] = tf.reshape(tf.range(2 * 1 * 3 * 1 * 2, dtype=tf.float32),
                                          [2, 1, 3, 1, 2])
    # keys: unicode, characters TF escapes in object paths (here just raw key bytes), long keys
    t["keys/unicode_\u00e9\u00e8_\u043a\u043b\u044e\u0447"] = tf.constant([1, 2], tf.int32)
    t["keys/" + "long_" * 60] = tf.constant([7], tf.int8)
    t["keys/dots..and.Sslashes/.ATTRIBUTES/x"] = tf.constant([1.0], tf.float64)
    # a bigger float32 tensor (4 KB) so data offsets are not all tiny
    t["float/float32_big"] = tf.constant(rng.standard_normal((32, 32)).astype(np.float32))
    return t


def case_dtypes():
    d = fresh_dir(os.path.join(ROOT, "dtypes"))
    t = dtype_tensors()
    names = list(t)
    tf.raw_ops.SaveV2(prefix=os.path.join(d, "ckpt"), tensor_names=names,
                      shape_and_slices=[""] * len(names), tensors=[t[n] for n in names])
    write_expected(d, "Every dtype TF 2.21 can save, written by tf.raw_ops.SaveV2 (name-based, no "
                   "object graph): IEEE/bfloat16/float8/sub-byte floats with inf/nan/-0, all int "
                   "widths with min/max, bool, complex, quantized (qint8/quint8/qint16/quint16/"
                   "qint32), int4/uint4/int2/uint2/float4_e2m1fn, strings with NUL/0xff/200-byte "
                   "entries, empty and [0,3] string tensors, scalars, zero-element tensors, "
                   "unicode and long keys.", ["ckpt"],
                   extra={"data_order": names})


def case_variables():
    """Object-based: tf.train.Checkpoint of tf.Variables of many dtypes (write(): no save_counter)."""
    d = fresh_dir(os.path.join(ROOT, "variables"))
    rng = np.random.default_rng(7)
    root = tf.Module()
    root.f16 = tf.Variable(rng.standard_normal((3, 2)).astype(np.float16))
    root.bf16 = tf.Variable(np.array([1.0, -2.0, 3.5], ml_dtypes.bfloat16))
    root.f32 = tf.Variable(rng.standard_normal((4, 3)).astype(np.float32))
    root.f64 = tf.Variable(rng.standard_normal(5))
    root.i8 = tf.Variable(np.array([-128, 0, 127], np.int8))
    root.u16 = tf.Variable(np.array([0, 65535], np.uint16))
    root.i32 = tf.Variable(np.array([[1, -2], [3, -4]], np.int32))
    root.i64 = tf.Variable(np.int64(-5))
    root.u64 = tf.Variable(np.array([2**64 - 1, 0], np.uint64))
    root.flag = tf.Variable([True, False])
    root.c64 = tf.Variable(np.array([1 + 1j, 2 - 3j], np.complex64))
    root.c128 = tf.Variable(np.array([[1 - 1j]], np.complex128))
    root.text = tf.Variable([b"one", b"", b"\x00\xff"])
    root.text_scalar = tf.Variable(b"a scalar string")
    root.empty = tf.Variable(tf.zeros([0, 3]))
    root.f8 = tf.Variable(tf.constant(np.array([1.0, -2.0], ml_dtypes.float8_e4m3fn), XDT.float8_e4m3fn))
    root.i4 = tf.Variable(tf.constant(np.array([-8, 7, -1], ml_dtypes.int4), XDT.int4))
    ckpt = tf.train.Checkpoint(root=root)
    ckpt.write(os.path.join(d, "ckpt"))
    write_expected(d, "tf.train.Checkpoint(root=tf.Module).write(): tf.Variables of many dtypes "
                   "(incl. string, bfloat16, float8_e4m3fn, int4, empty); object graph present, "
                   "no save_counter, no `checkpoint` state file.", ["ckpt"])


# --------------------------------------------------------------------------------------------
# (b) tf_keras save_weights with optimizer state
# --------------------------------------------------------------------------------------------

def _train_one_step(model, in_dim, out_dim, n=8, loss="mse"):
    rng = np.random.default_rng(42)
    x = rng.standard_normal((n, in_dim)).astype(np.float32)
    y = rng.standard_normal((n, out_dim)).astype(np.float32)
    model.fit(x, y, epochs=1, batch_size=n, verbose=0, shuffle=False)


def small_sequential(legacy=False, dropout=False, name=None):
    seed(0)
    layers = [tf_keras.layers.Dense(3, activation="relu", input_shape=(4,), name="dense")]
    if dropout:
        layers.append(tf_keras.layers.Dropout(0.25, name="dropout"))
    layers.append(tf_keras.layers.Dense(2, name="dense_1"))
    model = tf_keras.Sequential(layers, name=name or "sequential")
    opt = (tf_keras.optimizers.legacy.Adam(learning_rate=0.01) if legacy
           else tf_keras.optimizers.Adam(learning_rate=0.01))
    model.compile(optimizer=opt, loss="mse")
    _train_one_step(model, 4, 2)
    return model


def case_tfkeras_adam():
    d = fresh_dir(os.path.join(ROOT, "tfkeras_adam"))
    model = small_sequential()
    model.save_weights(os.path.join(d, "ckpt"))
    write_expected(d, "tf_keras Sequential(Dense(3, relu), Dense(2)) trained one step with the "
                   "default (new) tf_keras.optimizers.Adam; model.save_weights('ckpt') in TF "
                   "format: layer_with_weights-N keys, optimizer/_iterations, "
                   "optimizer/_learning_rate, optimizer/_variables/N; `checkpoint` state file.",
                   ["ckpt"], latest="ckpt",
                   extra={"model_json": json.loads(model.to_json())})


def case_tfkeras_legacy_adam():
    d = fresh_dir(os.path.join(ROOT, "tfkeras_legacy_adam"))
    model = small_sequential(legacy=True, dropout=True)
    model.save_weights(os.path.join(d, "ckpt"))
    write_expected(d, "tf_keras Sequential(Dense, Dropout, Dense) trained one step with "
                   "tf_keras.optimizers.legacy.Adam: slot variables "
                   "(.OPTIMIZER_SLOT/optimizer/m|v keys) and optimizer/iter, beta_1, beta_2, "
                   "decay, learning_rate.", ["ckpt"], latest="ckpt",
                   extra={"model_json": json.loads(model.to_json())})


def case_tfkeras_functional():
    d = fresh_dir(os.path.join(ROOT, "tfkeras_functional"))
    seed(0)
    a = tf_keras.Input((4,), name="in_a")
    b = tf_keras.Input((2,), name="in_b")
    inner = tf_keras.Sequential([tf_keras.layers.BatchNormalization(input_shape=(4,)),
                                 tf_keras.layers.Dense(3, activation="tanh")], name="inner")
    h = inner(a)
    c = tf_keras.layers.Concatenate()([h, b])
    out = tf_keras.layers.Dense(2, name="out")(c)
    model = tf_keras.Model([a, b], out, name="func")
    model.compile(optimizer=tf_keras.optimizers.Adam(0.01), loss="mse")
    rng = np.random.default_rng(3)
    model.fit([rng.standard_normal((8, 4)).astype(np.float32),
               rng.standard_normal((8, 2)).astype(np.float32)],
              rng.standard_normal((8, 2)).astype(np.float32), epochs=1, batch_size=8, verbose=0,
              shuffle=False)
    model.save_weights(os.path.join(d, "ckpt"))
    write_expected(d, "tf_keras Functional model with two inputs, a nested Sequential "
                   "(BatchNormalization, Dense) and Concatenate, trained one step with Adam; "
                   "save_weights TF format (nested layer_with_weights-0/layer_with_weights-1 "
                   "keys, BN moving stats).", ["ckpt"], latest="ckpt",
                   extra={"model_json": json.loads(model.to_json())})


# --------------------------------------------------------------------------------------------
# (c) nested tf.Module, names with "/" and "." (escaping), shared variables, hash table,
#     a custom _serialize_to_tensors object (double escaping)
# --------------------------------------------------------------------------------------------

class _Custom(tf.Module):
    """Saves through _serialize_to_tensors with a tensor name that needs escaping."""

    def __init__(self):
        super().__init__()
        self.v = tf.Variable([1.0, 2.0, 3.0])

    def _serialize_to_tensors(self):
        return {"x.y/z": self.v.read_value(), "plain": tf.constant([9], tf.int32)}

    def _restore_from_tensors(self, restored_tensors):
        return self.v.assign(restored_tensors["x.y/z"])

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        return {}


def case_escaping():
    d = fresh_dir(os.path.join(ROOT, "escaping"))
    rng = np.random.default_rng(11)
    inner = tf.Module()
    inner.w = tf.Variable(rng.standard_normal((2, 3)).astype(np.float32))
    inner.b = tf.Variable(np.zeros(3, np.float32))
    outer = tf.Module()
    outer.inner = inner
    outer.items = [tf.Variable([1, 2, 3], dtype=tf.int64), inner]      # shared node via a list
    outer.table = {"a/b.c": tf.Variable([0.5]), "x..y//z": tf.Variable([b"s"]),
                   "...": tf.Variable(1.0), "/": tf.Variable(2.0)}
    lookup = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=-1)
    lookup.insert(tf.constant([b"k1", b"k\x002", b""]), tf.constant([1, 2, 3], tf.int64))
    ckpt = tf.train.Checkpoint(**{"my.obj/1": outer, "plain": inner, "lookup": lookup,
                                  "custom": _Custom(), "a.b": tf.Variable([[1.0, 2.0]])})
    ckpt.write(os.path.join(d, "ckpt"))
    write_expected(d, "tf.train.Checkpoint of nested tf.Modules whose names contain '/' and '.' "
                   "(escaped as '.S' and '..'), dict keys 'a/b.c', 'x..y//z', '...', '/', a node "
                   "reachable under several paths, a MutableHashTable (table-keys/table-values "
                   "keys under a single 'table' attribute) and an object using "
                   "_serialize_to_tensors with tensor name 'x.y/z' (double escaping).", ["ckpt"])


# --------------------------------------------------------------------------------------------
# (d) CheckpointManager
# --------------------------------------------------------------------------------------------

def case_manager():
    d = fresh_dir(os.path.join(ROOT, "manager"))
    step = tf.Variable(0, dtype=tf.int64)
    w = tf.Variable(tf.zeros([2, 2]))
    ckpt = tf.train.Checkpoint(step=step, w=w)
    mgr = tf.train.CheckpointManager(ckpt, d, max_to_keep=3, checkpoint_name="ckpt")
    for i in range(5):
        step.assign(i + 1)
        w.assign(tf.fill([2, 2], float(i)))
        mgr.save()
    prefixes = sorted(os.path.basename(p) for p in mgr.checkpoints)
    latest = os.path.relpath(tf.train.latest_checkpoint(d), d)
    write_expected(d, "tf.train.CheckpointManager(max_to_keep=3) after 5 saves: ckpt-3, ckpt-4, "
                   "ckpt-5 remain; `checkpoint` state file with relative paths and timestamps; "
                   "each checkpoint has save_counter, step, w.", prefixes, latest=latest,
                   extra={"state_paths": [os.path.basename(p) for p in mgr.checkpoints]})


# --------------------------------------------------------------------------------------------
# (e) sharded and partitioned
# --------------------------------------------------------------------------------------------

def case_sharded_policy():
    d = fresh_dir(os.path.join(ROOT, "sharded_policy"))
    rng = np.random.default_rng(5)
    root = tf.Module()
    root.a = tf.Variable(rng.standard_normal((25, 40)).astype(np.float32))   # 4000 B
    root.b = tf.Variable(rng.standard_normal((50, 20)).astype(np.float64))   # 8000 B
    root.c = tf.Variable(rng.integers(0, 100, (10, 100)).astype(np.int32))   # 4000 B
    root.s = tf.Variable(tf.constant([b"str" * 10, b"x" * 50]))
    root.k = tf.Variable(3.0)
    opts = tf.train.CheckpointOptions(
        experimental_sharding_callback=tf.train.experimental.MaxShardSizePolicy(
            max_shard_size=3000))
    tf.train.Checkpoint(root=root).write(os.path.join(d, "ckpt"), options=opts)
    write_expected(d, "tf.train.Checkpoint.write with CheckpointOptions(experimental_sharding_"
                   "callback=MaxShardSizePolicy(max_shard_size=3000)) on ~16 KB of variables: "
                   "several shards, variables sliced across shards (partitioned entries with "
                   "slice keys).", ["ckpt"])


def _slice_init(full):
    """A v1 initializer that gives each partition its part of `full`."""
    def init(shape, dtype=None, partition_info=None):
        if partition_info is None:
            return tf.constant(full, dtype=dtype)
        offs = partition_info.var_offset
        idx = tuple(slice(o, o + n) for o, n in zip(offs, shape))
        return tf.constant(full[idx], dtype=dtype)
    return init


def case_tf1_saver():
    d = fresh_dir(os.path.join(ROOT, "tf1_saver"))
    rng = np.random.default_rng(9)
    g = tf.Graph()
    with g.as_default():
        v1 = tf.compat.v1
        vars_ = []
        for i in range(3):
            with tf.device(f"/cpu:{i}"):
                vars_.append(v1.get_variable(
                    f"dev{i}/w", initializer=rng.standard_normal((3, 4)).astype(np.float32)))
                vars_.append(v1.get_variable(
                    f"dev{i}/count", initializer=np.int64(i * 10)))
        with tf.device("/cpu:1"):
            part = v1.get_variable("part_var", shape=[10, 3], dtype=tf.float32,
                                   initializer=_slice_init(
                                       np.arange(30, dtype=np.float32).reshape(10, 3)),
                                   partitioner=v1.fixed_size_partitioner(3))
        with tf.device("/cpu:2"):
            part2 = v1.get_variable("scope/part_cols", shape=[2, 9], dtype=tf.float64,
                                    initializer=_slice_init(rng.standard_normal((2, 9))),
                                    partitioner=v1.fixed_size_partitioner(3, axis=1))
        saver_sh = v1.train.Saver(sharded=True)
        saver_one = v1.train.Saver(sharded=False)
        init = v1.global_variables_initializer()
        del part, part2
    cfg = v1.ConfigProto(device_count={"CPU": 3}, allow_soft_placement=False)
    with v1.Session(graph=g, config=cfg) as sess:
        sess.run(init)
        saver_sh.save(sess, os.path.join(d, "sharded"), write_meta_graph=False,
                      write_state=False)
        saver_one.save(sess, os.path.join(d, "single"), write_meta_graph=False,
                       write_state=False)
    write_expected(d, "TF1 graph-mode tf.compat.v1.train.Saver: 'sharded' = Saver(sharded=True) "
                   "with variables on /cpu:0, /cpu:1, /cpu:2 (one data shard per device, merged "
                   "index); 'single' = Saver(sharded=False). Both hold two partitioned variables "
                   "made with fixed_size_partitioner(3): part_var [10,3] split on axis 0 and "
                   "scope/part_cols [2,9] split on axis 1 (slice keys, assembled on read). "
                   "Name-based keys, no object graph, no state file.", ["sharded", "single"])


# --------------------------------------------------------------------------------------------
# bundled demo
# --------------------------------------------------------------------------------------------

def make_demo():
    d = os.path.normpath(DEMO)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    seed(1)
    model = tf_keras.Sequential([
        tf_keras.layers.Dense(8, activation="relu", input_shape=(4,), name="hidden"),
        tf_keras.layers.Dense(3, activation="softmax", name="probs"),
    ], name="demo")
    model.compile(optimizer=tf_keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(2024)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5).astype(np.int64)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
    model.save_weights(os.path.join(d, "ckpt"))
    with open(os.path.join(d, "model.json"), "w") as f:
        f.write(json.dumps(json.loads(model.to_json()), indent=1, sort_keys=True) + "\n")
    probe = x[:4]
    expected = describe_checkpoint(os.path.join(d, "ckpt"))
    expected["description"] = ("Bundled demo: tf_keras Sequential(Dense(8, relu), "
                               "Dense(3, softmax)) trained 3 epochs with Adam, save_weights TF "
                               "format; predictions of the first 4 samples for later checks.")
    expected["probe_inputs"] = probe.tolist()
    expected["probe_outputs"] = model.predict(probe, verbose=0).tolist()
    with open(os.path.join(ROOT, "demo_expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


CASES = {
    "dtypes": case_dtypes,
    "variables": case_variables,
    "tfkeras_adam": case_tfkeras_adam,
    "tfkeras_legacy_adam": case_tfkeras_legacy_adam,
    "tfkeras_functional": case_tfkeras_functional,
    "escaping": case_escaping,
    "manager": case_manager,
    "sharded_policy": case_sharded_policy,
    "tf1_saver": case_tf1_saver,
    "demo": make_demo,
}


def main(argv):
    os.makedirs(ROOT, exist_ok=True)
    names = argv or list(CASES)
    for n in names:
        CASES[n]()
        print(f"wrote {n}")
    total = sum(os.path.getsize(os.path.join(dp, f))
                for dp, _, fs in os.walk(ROOT) for f in fs)
    print(f"tests/data/tf: {total} bytes")
    assert total < 2_000_000, "fixtures must stay well under 2 MB"


if __name__ == "__main__":
    main(sys.argv[1:])
