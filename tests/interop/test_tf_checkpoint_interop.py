"""kerasave <-> real TensorFlow 2.21 / tf_keras 2.21 checkpoint interop.

(i)   ks.checkpoint.save_checkpoint -> tf.train.load_checkpoint: every dtype, strings, scalars,
      empty tensors, multi-shard.
(ii)  byte identity with tf.raw_ops.SaveV2 (same tensors, same order, object_graph=False).
(iii) kerasave's automatic object graph -> tf.train.Checkpoint(...).restore().assert_consumed().
(iv)  kerasave re-writes tf_keras save_weights checkpoints; tf_keras load_weights restores them.
(v)   CheckpointManager directories <-> ks.checkpoint.latest_checkpoint / load_checkpoint.
"""
import json
import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
ml_dtypes = pytest.importorskip("ml_dtypes")

import kerasave as ks  # noqa: E402

pytestmark = pytest.mark.interop

HERE = os.path.dirname(os.path.abspath(__file__))
TF_DIR = os.path.join(HERE, "..", "data", "tf")
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
XDT = tf.dtypes.experimental


def _tf_keras():
    return pytest.importorskip("tf_keras")


# ------------------------------------------------------------------------------------------------
# tensors of every dtype (numpy / ml_dtypes), with the TF dtype name each must come back as
# ------------------------------------------------------------------------------------------------

def every_dtype():
    rng = np.random.default_rng(99)
    special = [0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, np.nan, 0.25]
    t = {}

    def add(name, arr, tf_name=None):
        t[name] = (np.asarray(arr), tf_name or np.asarray(arr).dtype.name)

    add("float16", np.array(special + [65504.0, 6e-8], np.float16).reshape(2, 5))
    add("bfloat16", np.array(special, ml_dtypes.bfloat16).reshape(2, 4))
    add("float32", np.concatenate([np.array(special, np.float32),
                                   rng.standard_normal(16).astype(np.float32)]).reshape(4, 6))
    add("float64", np.array(special + [5e-324, 1.7976931348623157e308]))
    for name in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]:
        info = np.iinfo(name)
        add(name, np.concatenate([np.array([info.min, info.max, 0, 1], name),
                                  rng.integers(info.min, info.max, 8, dtype=name, endpoint=True)])
            .reshape(3, 4))
    add("bool", np.array([[True, False], [False, True]]))
    add("complex64", np.array([1 + 2j, -0.0 - 1j, complex(np.inf, np.nan)], np.complex64))
    add("complex128", np.array([[1 + 2j], [3.5 - 0.25j]], np.complex128))
    for name in ["float8_e5m2", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz",
                 "float8_e5m2fnuz"]:
        add(name, np.array([0.0, 1.0, -1.5, 0.25, 2.0, -3.0], getattr(ml_dtypes, name)))
    add("int4", np.array([-8, -1, 0, 1, 7], ml_dtypes.int4))
    add("uint4", np.array([0, 1, 8, 15], ml_dtypes.uint4))
    add("int2", np.array([-2, -1, 0, 1], ml_dtypes.int2))
    add("uint2", np.array([0, 1, 2, 3], ml_dtypes.uint2))
    add("float4_e2m1fn", np.array([0.0, 1.0, -1.0, 6.0, -0.5], ml_dtypes.float4_e2m1fn))
    add("string", np.array([b"hello", b"", b"w\x00rld", b"\xff\xfe\x00", b"x" * 200,
                            b"\x00"], dtype=object), "string")
    add("string_2d", np.array([[b"a", b"bc"], [b"", b"d" * 300]], dtype=object), "string")
    add("string_scalar", np.array(b"scalar\x00", dtype=object), "string")
    add("string_empty", np.empty((0,), dtype=object), "string")
    add("string_empty_0x3", np.empty((0, 3), dtype=object), "string")
    add("scalar_float32", np.array(3.5, np.float32))
    add("scalar_int64", np.array(-(2**40), np.int64))
    add("scalar_bfloat16", np.array(-2.5, ml_dtypes.bfloat16))
    add("scalar_bool", np.array(True))
    add("empty_float32_0x3", np.zeros((0, 3), np.float32))
    add("empty_int8_0", np.zeros((0,), np.int8))
    add("empty_float16_2x0x4", np.zeros((2, 0, 4), np.float16))
    add("rank5", np.arange(12, dtype=np.float64).reshape(2, 1, 3, 1, 2))
    return t


def assert_tf_tensor_equal(got, want, what):
    # TF returns a scalar string as bytes; np.asarray(bytes) would drop trailing NULs
    got = np.asarray(got, dtype=object) if want.dtype == object else np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if want.dtype == object:
        assert [bytes(x) for x in got.reshape(-1)] == [bytes(x) for x in want.reshape(-1)], what
    else:
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
        assert got.tobytes() == np.ascontiguousarray(want).tobytes(), f"{what}: bytes differ"


def object_key(name):
    return f"{name}/.ATTRIBUTES/VARIABLE_VALUE"


# ------------------------------------------------------------------------------------------------
# (i) kerasave writes, TF reads
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("object_graph", [None, False], ids=["auto_graph", "no_graph"])
def test_save_every_dtype_tf_reads(tmp_path, object_graph):
    tensors = every_dtype()
    to_save = {object_key(n): a for n, (a, _) in tensors.items()}
    prefix = ks.checkpoint.save_checkpoint(str(tmp_path / "ckpt"), to_save,
                                           object_graph=object_graph)
    assert prefix == str(tmp_path / "ckpt")
    r = tf.train.load_checkpoint(prefix)
    dtypes = r.get_variable_to_dtype_map()
    shapes = r.get_variable_to_shape_map()
    want_keys = set(to_save) | ({GRAPH_KEY} if object_graph is None else set())
    assert set(shapes) == want_keys
    for name, (arr, tf_name) in tensors.items():
        key = object_key(name)
        assert dtypes[key].name == tf_name, f"{name}: TF sees {dtypes[key].name}"
        assert list(shapes[key]) == list(arr.shape), name
        assert_tf_tensor_equal(r.get_tensor(key), arr, name)
    # and kerasave reads its own file back identically
    kr = ks.checkpoint.load_checkpoint(prefix)
    for name, (arr, _) in tensors.items():
        assert_tf_tensor_equal(kr.get_tensor(object_key(name)), arr, f"ks:{name}")


def test_save_name_based_keys(tmp_path):
    """Arbitrary (non object-path) keys, incl. unicode and bytes-looking ones; no graph."""
    tensors = {"a": np.arange(3, dtype=np.int32), "dir/sub/w": np.ones((2, 2), np.float32),
               "unicode_\u00e9\u043a": np.array([1.5]), "z" * 300: np.array(b"s", dtype=object)}
    prefix = ks.checkpoint.save_checkpoint(str(tmp_path / "ckpt"), tensors)
    r = tf.train.load_checkpoint(prefix)
    assert set(r.get_variable_to_shape_map()) == set(tensors)
    for k, v in tensors.items():
        assert_tf_tensor_equal(r.get_tensor(k), v, k)


@pytest.mark.parametrize("max_shard_size", [1, 300, 1000, 4096])
def test_save_multi_shard_tf_reads(tmp_path, max_shard_size):
    rng = np.random.default_rng(max_shard_size)
    tensors = {}
    for i in range(12):
        tensors[object_key(f"v{i}")] = rng.standard_normal((i + 1, 17)).astype(np.float32)
    tensors[object_key("s")] = np.array([b"abc" * 50, b""], dtype=object)
    tensors[object_key("scalar")] = np.array(7, np.int64)
    tensors[object_key("empty")] = np.zeros((0, 5), np.float64)
    tensors[object_key("bf")] = rng.standard_normal(300).astype(ml_dtypes.bfloat16)
    prefix = ks.checkpoint.save_checkpoint(str(tmp_path / "ckpt"), tensors,
                                           max_shard_size=max_shard_size)
    data = sorted(f for f in os.listdir(tmp_path) if f.startswith("ckpt.data-"))
    assert len(data) > 1, data
    n = len(data)
    assert data == [f"ckpt.data-{i:05d}-of-{n:05d}" for i in range(n)]
    r = tf.train.load_checkpoint(prefix)
    assert set(r.get_variable_to_shape_map()) == set(tensors) | {GRAPH_KEY}
    for k, v in tensors.items():
        assert_tf_tensor_equal(r.get_tensor(k), v, k)
    # shards hold whole tensors of at most max_shard_size bytes, except a lone big tensor
    if max_shard_size >= 1000:
        sizes = [os.path.getsize(tmp_path / f) for f in data[:-1]]
        big = max(v.nbytes for v in tensors.values() if v.dtype != object)
        assert all(s <= max(max_shard_size, big) for s in sizes), sizes


# ------------------------------------------------------------------------------------------------
# (ii) byte identity with tf.raw_ops.SaveV2
# ------------------------------------------------------------------------------------------------

def _tf_constant(arr):
    if arr.dtype == object:
        return tf.constant(arr.tolist() if arr.ndim else arr.item(), dtype=tf.string,
                           shape=arr.shape)
    name = arr.dtype.name
    if hasattr(XDT, name):
        return tf.constant(arr, dtype=getattr(XDT, name))
    return tf.constant(arr)


def _identity_cases():
    rng = np.random.default_rng(5)
    cases = {}
    cases["floats"] = {"w": np.array([[1.0, 2.0]], np.float32),
                       "b": rng.standard_normal(7).astype(np.float64)}
    cases["spec_example"] = {"w": np.array([[1.0, 2.0]], np.float32),
                             "s": np.array([b"ab", b""], dtype=object)}
    cases["strings"] = {"s": np.array([b"hello", b"", b"w\x00rld", b"x" * 200, b"\xff"],
                                      dtype=object),
                        "scalar": np.array(b"one", dtype=object),
                        "empty": np.empty((0,), dtype=object),
                        "empty2": np.empty((0, 3), dtype=object),
                        "big_len": np.array([b"y" * 20000], dtype=object)}
    every = {n: a for n, (a, _) in every_dtype().items()}
    cases["every_dtype"] = every
    cases["every_dtype_reversed"] = dict(reversed(list(every.items())))
    cases["scalars_empties"] = {"a": np.array(1.0, np.float32), "b": np.zeros((0,), np.int32),
                                "c": np.zeros((3, 0), np.float16), "d": np.array(False)}
    cases["object_style_keys"] = {
        object_key("layer_with_weights-0/kernel"): rng.standard_normal((4, 3)).astype(np.float32),
        object_key("layer_with_weights-0/bias"): np.zeros(3, np.float32),
        object_key("optimizer/iter"): np.array(3, np.int64),
        "unicode/\u00e9\u00e8/\u043a\u043b": np.array([1], np.int8)}
    # 6000 keys: the index spans several 256 KiB data blocks (separator keys in the index block)
    table = {}
    for i in range(6000):
        table[f"table/{i:05d}/" + "k" * (i % 37) + "/.ATTRIBUTES/VARIABLE_VALUE"] = \
            np.array([i, -i], np.int32)
    cases["table_6000"] = table
    # keys sharing long prefixes, with 0xff-like and high code points (FindShortSuccessor)
    cases["tricky_keys"] = {"a": np.array([1], np.int8), "a\u00ff": np.array([2], np.int8),
                            "a\u00ff\u00ff": np.array([3], np.int8), "\uffff": np.array([4], np.int8),
                            "ab" * 100: np.array([5], np.int8), "ab" * 100 + "c": np.array([6], np.int8)}
    return cases


IDENTITY = _identity_cases()


@pytest.mark.parametrize("case", sorted(IDENTITY))
def test_byte_identical_with_savev2(tmp_path, case):
    tensors = IDENTITY[case]
    names = list(tensors)
    tf_prefix = str(tmp_path / "tf" / "ckpt")
    ks_prefix = str(tmp_path / "ks" / "ckpt")
    os.makedirs(os.path.dirname(tf_prefix))
    tf.raw_ops.SaveV2(prefix=tf_prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[_tf_constant(tensors[n]) for n in names])
    ks.checkpoint.save_checkpoint(ks_prefix, tensors, object_graph=False)
    for suffix in [".index", ".data-00000-of-00001"]:
        with open(tf_prefix + suffix, "rb") as f:
            want = f.read()
        with open(ks_prefix + suffix, "rb") as f:
            got = f.read()
        assert len(got) == len(want), f"{suffix}: {len(got)} bytes, TF wrote {len(want)}"
        if got != want:
            first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
            pytest.fail(f"{case}{suffix}: first differing byte at offset {first}: "
                        f"ks {got[first:first + 16].hex()} vs TF {want[first:first + 16].hex()}")
    assert sorted(os.listdir(tmp_path / "ks")) == sorted(os.listdir(tmp_path / "tf"))


def test_table_6000_index_has_several_blocks(tmp_path):
    """Sanity check of the 6000-key case itself: TF's index exceeds one 256 KiB block."""
    tensors = IDENTITY["table_6000"]
    prefix = ks.checkpoint.save_checkpoint(str(tmp_path / "ckpt"), tensors, object_graph=False)
    assert os.path.getsize(prefix + ".index") > 262144
    r = tf.train.load_checkpoint(prefix)
    assert len(r.get_variable_to_shape_map()) == 6000
    np.testing.assert_array_equal(r.get_tensor(next(reversed(tensors))), [5999, -5999])


# ------------------------------------------------------------------------------------------------
# (iii) automatic object graph -> tf.train.Checkpoint.restore
# ------------------------------------------------------------------------------------------------

def _module_tree(values):
    """tf.Modules whose variables sit at the attribute paths the keys name."""
    model = tf.Module()
    model.dense = tf.Module()
    model.dense.kernel = tf.Variable(tf.zeros([4, 3]))
    model.dense.bias = tf.Variable(tf.zeros([3]))
    model.blocks = [tf.Module(), tf.Module()]
    model.blocks[0].w = tf.Variable(tf.zeros([2], tf.float64))
    model.blocks[1].w = tf.Variable(tf.zeros([2, 2], tf.int32))
    model.named = {"a/b.c": tf.Variable(tf.zeros([1])), "x..y": tf.Variable(tf.zeros([], tf.int64))}
    model.text = tf.Variable(tf.constant([b"", b""]))
    model.half = tf.Variable(tf.zeros([3], tf.bfloat16))
    opt = tf.Module()
    opt.iter = tf.Variable(tf.zeros([], tf.int64))
    return model, opt


def _tree_values():
    rng = np.random.default_rng(17)
    return {
        "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE": rng.standard_normal((4, 3)).astype(np.float32),
        "model/dense/bias/.ATTRIBUTES/VARIABLE_VALUE": np.array([1, 2, 3], np.float32),
        "model/blocks/0/w/.ATTRIBUTES/VARIABLE_VALUE": np.array([0.5, -0.5]),
        "model/blocks/1/w/.ATTRIBUTES/VARIABLE_VALUE": np.array([[1, 2], [3, 4]], np.int32),
        "model/named/a.Sb..c/.ATTRIBUTES/VARIABLE_VALUE": np.array([9.0], np.float32),
        "model/named/x....y/.ATTRIBUTES/VARIABLE_VALUE": np.array(42, np.int64),
        "model/text/.ATTRIBUTES/VARIABLE_VALUE": np.array([b"p\x00q", b"\xff"], dtype=object),
        "model/half/.ATTRIBUTES/VARIABLE_VALUE": np.array([1.0, -2.0, 0.5], ml_dtypes.bfloat16),
        "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE": np.array(7, np.int64),
        # tf.train.Checkpoint.restore creates save_counter and expects a value for it
        "save_counter/.ATTRIBUTES/VARIABLE_VALUE": np.array(1, np.int64),
    }


def _tree_variables(model, opt):
    return {
        "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE": model.dense.kernel,
        "model/dense/bias/.ATTRIBUTES/VARIABLE_VALUE": model.dense.bias,
        "model/blocks/0/w/.ATTRIBUTES/VARIABLE_VALUE": model.blocks[0].w,
        "model/blocks/1/w/.ATTRIBUTES/VARIABLE_VALUE": model.blocks[1].w,
        "model/named/a.Sb..c/.ATTRIBUTES/VARIABLE_VALUE": model.named["a/b.c"],
        "model/named/x....y/.ATTRIBUTES/VARIABLE_VALUE": model.named["x..y"],
        "model/text/.ATTRIBUTES/VARIABLE_VALUE": model.text,
        "model/half/.ATTRIBUTES/VARIABLE_VALUE": model.half,
        "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE": opt.iter,
    }


@pytest.mark.parametrize("max_shard_size", [None, 64], ids=["one_shard", "sharded"])
def test_auto_object_graph_restores(tmp_path, max_shard_size):
    values = _tree_values()
    prefix = ks.checkpoint.save_checkpoint(str(tmp_path / "ckpt"), values,
                                           max_shard_size=max_shard_size)
    model, opt = _module_tree(values)
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt)
    status = ckpt.restore(prefix)
    status.assert_consumed()
    for key, var in _tree_variables(model, opt).items():
        assert_tf_tensor_equal(var.numpy(), values[key], key)
    assert int(ckpt.save_counter.numpy()) == 1
    # TF saving the same tree derives exactly the keys kerasave was given
    ref = str(tmp_path / "tf_ref" / "ckpt")
    ckpt.write(ref)
    assert set(tf.train.load_checkpoint(ref).get_variable_to_shape_map()) == \
        set(values) | {GRAPH_KEY}


def test_auto_object_graph_partial_restore(tmp_path):
    """Restoring into a tree without the optimizer: every live object is matched by walking the
    graph (assert_existing_objects_matched), the unused optimizer values make assert_consumed
    fail, exactly as with a TF-written checkpoint."""
    values = _tree_values()
    prefix = ks.checkpoint.save_checkpoint(str(tmp_path / "ckpt"), values)
    model, _ = _module_tree(values)
    status = tf.train.Checkpoint(model=model).restore(prefix)
    status.assert_existing_objects_matched()
    with pytest.raises(AssertionError):
        status.assert_consumed()
    np.testing.assert_array_equal(model.dense.kernel.numpy(),
                                  values["model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"])
    # an extra live variable that the checkpoint lacks is reported
    model2, opt2 = _module_tree(values)
    model2.extra = tf.Variable(1.0)
    status = tf.train.Checkpoint(model=model2, optimizer=opt2).restore(prefix)
    with pytest.raises(AssertionError):
        status.assert_existing_objects_matched()


def test_auto_object_graph_slot_variables_restore(tmp_path):
    """.OPTIMIZER_SLOT keys become slot variables in the auto graph; a tf_keras legacy optimizer
    restores them (deferred until the slots are created)."""
    tf_keras = _tf_keras()
    src = os.path.join(TF_DIR, "tfkeras_legacy_adam", "ckpt")
    with open(os.path.join(TF_DIR, "tfkeras_legacy_adam", "expected.json")) as f:
        exp = json.load(f)
    r = ks.checkpoint.load_checkpoint(src)
    values = {k: r.get_tensor(k) for k in r.keys() if k != GRAPH_KEY}
    prefix = ks.checkpoint.save_checkpoint(str(tmp_path / "ckpt"), values)  # auto graph
    model = tf_keras.models.model_from_json(json.dumps(exp["model_json"]))
    opt = tf_keras.optimizers.legacy.Adam(learning_rate=0.01)
    model.compile(optimizer=opt, loss="mse")
    status = model.load_weights(prefix)
    opt._create_all_weights(model.trainable_variables)
    status.assert_consumed()
    for i, layer in enumerate(l for l in model.layers if l.weights):
        for name in ["kernel", "bias"]:
            var = getattr(layer, name)
            base = f"layer_with_weights-{i}/{name}"
            np.testing.assert_array_equal(var.numpy(), values[f"{base}/.ATTRIBUTES/VARIABLE_VALUE"])
            for slot in ["m", "v"]:
                np.testing.assert_array_equal(
                    opt.get_slot(var, slot).numpy(),
                    values[f"{base}/.OPTIMIZER_SLOT/optimizer/{slot}/.ATTRIBUTES/VARIABLE_VALUE"])
    assert int(opt.iterations.numpy()) == int(values["optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"])


# ------------------------------------------------------------------------------------------------
# (iv) kerasave re-writes tf_keras checkpoints
# ------------------------------------------------------------------------------------------------

TFK_CASES = ["tfkeras_adam", "tfkeras_legacy_adam", "tfkeras_functional"]


def _fresh_tfkeras_model(case, exp):
    tf_keras = _tf_keras()
    model = tf_keras.models.model_from_json(json.dumps(exp["model_json"]))
    opt = (tf_keras.optimizers.legacy.Adam(0.01) if "legacy" in case
           else tf_keras.optimizers.Adam(0.01))
    model.compile(optimizer=opt, loss="mse")
    return model


def _weights_by_key(model):
    """tf_keras model weights keyed like save_weights keys (via a reference save)."""
    return {w.name: w.numpy() for w in model.weights}


@pytest.mark.parametrize("graph_mode", ["passthrough", "auto"])
@pytest.mark.parametrize("case", TFK_CASES)
def test_rewrite_tfkeras_checkpoint_loads(tmp_path, case, graph_mode):
    src = os.path.join(TF_DIR, case, "ckpt")
    with open(os.path.join(TF_DIR, case, "expected.json")) as f:
        exp = json.load(f)
    r = ks.checkpoint.load_checkpoint(src)
    keys = list(r.keys())
    values = {k: r.get_tensor(k) for k in keys}
    if graph_mode == "auto":
        del values[GRAPH_KEY]
    out = ks.checkpoint.save_checkpoint(str(tmp_path / "ckpt"), values)
    tr = tf.train.load_checkpoint(out)
    assert set(tr.get_variable_to_shape_map()) == set(keys)
    if graph_mode == "passthrough":
        assert tr.get_tensor(GRAPH_KEY) == r.get_tensor(GRAPH_KEY).item()

    # reference: the same model loading TF's own file
    ref = _fresh_tfkeras_model(case, exp)
    ref.load_weights(src).assert_existing_objects_matched()
    model = _fresh_tfkeras_model(case, exp)
    status = model.load_weights(out)
    status.assert_existing_objects_matched()
    ref_w = _weights_by_key(ref)
    got_w = _weights_by_key(model)
    assert set(got_w) == set(ref_w)
    for name in ref_w:
        np.testing.assert_array_equal(got_w[name], ref_w[name], err_msg=name)
    # model weights equal the checkpoint bytes
    tfr = tf.train.load_checkpoint(src)
    for i, layer in enumerate(l for l in model.layers if l.weights):
        if case == "tfkeras_functional":
            break
        for name in ["kernel", "bias"]:
            np.testing.assert_array_equal(
                getattr(layer, name).numpy(),
                tfr.get_tensor(f"layer_with_weights-{i}/{name}/.ATTRIBUTES/VARIABLE_VALUE"))


# ------------------------------------------------------------------------------------------------
# (v) CheckpointManager directories
# ------------------------------------------------------------------------------------------------

def test_tf_manager_dir_read_by_kerasave(tmp_path):
    step = tf.Variable(0, dtype=tf.int64)
    w = tf.Variable(tf.zeros([3, 2]))
    ckpt = tf.train.Checkpoint(step=step, w=w)
    mgr = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2)
    for i in range(4):
        step.assign(i)
        w.assign(tf.fill([3, 2], float(i) + 0.5))
        mgr.save()
    want = tf.train.latest_checkpoint(str(tmp_path))
    got = ks.checkpoint.latest_checkpoint(str(tmp_path))
    assert os.path.normpath(got) == os.path.normpath(want)
    r = ks.checkpoint.load_checkpoint(str(tmp_path))
    assert int(r.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == 3
    np.testing.assert_array_equal(r.get_tensor("w/.ATTRIBUTES/VARIABLE_VALUE"),
                                  np.full((3, 2), 3.5, np.float32))
    with ks.open(str(tmp_path)) as store:
        assert set(store) == set(tf.train.load_checkpoint(want).get_variable_to_shape_map())
    # an older kept checkpoint
    older = mgr.checkpoints[0]
    assert int(ks.checkpoint.load_checkpoint(older).get_tensor(
        "step/.ATTRIBUTES/VARIABLE_VALUE")) == 2


def test_tf_manager_state_file_absolute_paths(tmp_path):
    """TF1 Saver / update_checkpoint_state with absolute paths."""
    v = tf.Variable([1.0, 2.0])
    prefix = tf.train.Checkpoint(v=v).write(str(tmp_path / "sub" / "model-7"))
    tf.compat.v1.train.update_checkpoint_state(str(tmp_path), prefix, all_model_checkpoint_paths=[prefix])
    assert os.path.normpath(ks.checkpoint.latest_checkpoint(str(tmp_path))) == \
        os.path.normpath(tf.train.latest_checkpoint(str(tmp_path)))


def test_kerasave_checkpoint_found_by_tf_latest_checkpoint(tmp_path):
    for i in (1, 2):
        prefix = ks.checkpoint.save_checkpoint(str(tmp_path / f"ckpt-{i}"),
                                               {object_key("v"): np.array([i], np.float32),
                                                object_key("save_counter"): np.array(i, np.int64)})
    ks.checkpoint.update_checkpoint_state(str(tmp_path), prefix)
    assert os.path.normpath(tf.train.latest_checkpoint(str(tmp_path))) == os.path.normpath(prefix)
    v = tf.Variable([0.0])
    tf.train.Checkpoint(v=v).restore(tf.train.latest_checkpoint(str(tmp_path))).assert_consumed()
    assert float(v.numpy()[0]) == 2.0


def test_save_checkpoint_update_state_matches_tf_state(tmp_path):
    """save_checkpoint(update_state=True) keeps a state file TF reads as it reads its own."""
    prefixes = [ks.checkpoint.save_checkpoint(str(tmp_path / f"ckpt-{i}"),
                                              {object_key("v"): np.array([i], np.float32)},
                                              update_state=True)
                for i in (1, 2, 3)]
    tf_state = tf.train.get_checkpoint_state(str(tmp_path))
    ks_state = ks.checkpoint.get_checkpoint_state(str(tmp_path))
    assert os.path.normpath(tf_state.model_checkpoint_path) == os.path.normpath(prefixes[-1])
    assert ks_state.model_checkpoint_path == tf_state.model_checkpoint_path
    assert list(ks_state.all_model_checkpoint_paths) == list(tf_state.all_model_checkpoint_paths)
    # Relative paths, as Checkpoint.save writes them, so the folder can move.
    text = (tmp_path / "checkpoint").read_text()
    assert text.startswith('model_checkpoint_path: "ckpt-3"\n'), text


def test_kerasave_checkpoint_in_tf_written_state(tmp_path):
    """A kerasave checkpoint registered with TF's own update_checkpoint_state is what
    tf.train.latest_checkpoint and ks.checkpoint.latest_checkpoint both return, and TF restores it."""
    prefix = ks.checkpoint.save_checkpoint(str(tmp_path / "ckpt-1"),
                                           {object_key("v"): np.array([4.0], np.float32),
                                            object_key("save_counter"): np.array(1, np.int64)})
    tf.compat.v1.train.update_checkpoint_state(str(tmp_path), "ckpt-1")
    assert os.path.normpath(tf.train.latest_checkpoint(str(tmp_path))) == os.path.normpath(prefix)
    assert os.path.normpath(ks.checkpoint.latest_checkpoint(str(tmp_path))) == \
        os.path.normpath(prefix)
    v = tf.Variable([0.0])
    tf.train.Checkpoint(v=v).restore(tf.train.latest_checkpoint(str(tmp_path))).assert_consumed()
    assert float(v.numpy()[0]) == 4.0
