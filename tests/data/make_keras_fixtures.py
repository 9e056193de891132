#!/usr/bin/env python3
"""Regenerate the Keras file-format fixtures under tests/data/keras/.

    python3 tests/data/make_keras_fixtures.py              # every case
    python3 tests/data/make_keras_fixtures.py k3_seq tfk_func   # only the named case(s)

Every artifact is written by REAL Keras 3.15.1 (TF backend) or tf_keras 2.21 (see
``../shared/specs/keras_formats.md`` for the layouts), except the ``derived`` case, which re-packs a
real Keras file with zipfile/h5py to get layouts Keras never writes (DEFLATED and ZIP64 members,
chunked/compressed/compact datasets) and checks that Keras still loads them.

Each case directory holds the artifact(s) and ``expected.json``:

    {"description", "generator": {versions},
     "files": {"<path relative to the case dir>": <entry>},
     "keras_get_weights": ["<sha256 of model.get_weights()[i].tobytes()>", ...],
     "keras_weights_meta": [{"path", "dtype", "shape"}, ...],        # same order
     "predict": {"input": <list | list of lists per model input>, "output": <list>}}

    <entry> for an HDF5 file (incl. the model.weights.h5 inside a .keras, paths/offsets relative
    to that inner file):
      {"kind": "h5", "size": n,
       "root_attrs": {...}, "root_attr_types": {...},
       "groups": {"/layers/dense/vars": {"attrs": {"name": "dense"}, "attr_types": {...}}},
                 # every group except "/"
       "datasets": {"/layers/dense/vars/0": {
           "dtype": "float32" | "bfloat16" | "int64" | ...,   # bfloat16 = opaque |V2 + @dtype
           "h5_dtype": "<f4" | "|V2" | ...,  "h5_class": "float" | "integer" | "opaque",
           "shape": [...], "nbytes": n, "sha256": "<of arr.tobytes()>",
           "layout": "contiguous" | "chunked" | "compact", "offset": <get_offset()> | null,
           "storage_size": n, "chunks": [...] | null, "filters": ["deflate", ...],
           ["attrs": {...}, "attr_types": {...}]}}}
      Attribute values: strings decoded (UTF-8), string arrays as lists, model_config /
      training_config parsed as JSON, numeric arrays as lists. attr_types gives the HDF5 type:
      {"class": "string", "vlen": bool, "cset": "ascii"|"utf8", "strpad": "nullterm"|"nullpad",
       "size": n (fixed-length only), "shape": [...]} or {"class": "float", "dtype": "float64",
       "shape": [0]} (e.g. the empty float64 weight_names).
    <entry> for a .keras zip:
      {"kind": "keras", "size": n, "members": [{"name", "method", "flags", "header_offset",
       "data_offset" (local header start + 30 + name_len + extra_len), "compressed_size", "size",
       "crc32", "external_attr", "version_needed", "local_extra_len", "central_extra_len",
       "local_zip64", "sha256" (of the uncompressed member)}, ...]   # central-directory order
       "config": <config.json parsed>, "metadata": <metadata.json parsed>,
       "weights_member": "model.weights.h5" | "model.weights.npz",
       "weights": <h5 entry> | null, "assets": {"<member>": "<utf-8 text>"}}
    <entry> for a `.weights.json` sharded index: {"kind": "weights_json", "index": <parsed>,
       "shards": [...]}  (each shard has its own h5 entry)
    <entry> for a `zipped=False` directory: {"kind": "keras_dir", "files": [...], "config",
       "metadata", "weights": <h5 entry of <dir>/model.weights.h5>}

After writing, the script re-reads every file with h5py / zipfile and checks the whole entry
(dtype, shape, sha256, layout, offset, attributes), that the bytes at every contiguous dataset
offset (plus the member's data_offset for .keras) equal the array bytes, and reloads each artifact
with Keras / tf_keras and compares get_weights() and predict() with the recorded values.

Seeds are fixed and Keras name counters are reset per case, so tensors, names and HDF5 offsets are
reproducible. Zip timestamps, metadata.json `date_saved` and the archive bytes change each run.
"""
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import ml_dtypes  # noqa: E402
import h5py  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
import tf_keras  # noqa: E402

assert keras.__version__ == "3.15.1", f"pinned to Keras 3.15.1, got {keras.__version__}"
assert tf_keras.__version__.startswith("2.21"), f"need tf_keras 2.21, got {tf_keras.__version__}"
assert tf.__version__.startswith("2.21"), f"need TensorFlow 2.21, got {tf.__version__}"
assert keras.backend.backend() == "tensorflow"

from keras.src.saving import saving_lib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "keras")
MAX_TOTAL = 2_500_000

GENERATOR = {"keras": keras.__version__, "tf_keras": tf_keras.__version__,
             "tensorflow": tf.__version__, "h5py": h5py.__version__,
             "hdf5": h5py.version.hdf5_version, "numpy": np.__version__,
             "ml_dtypes": ml_dtypes.__version__, "python": sys.version.split()[0]}
print(" ".join(f"{k} {v}" for k, v in GENERATOR.items()))


# --------------------------------------------------------------------------------------------
# Custom objects (described in tests/data/README.md)
# --------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="MyPkg", name="Scaler")
class ScaleLayer(keras.layers.Layer):
    """y = x * var_a + count. `var_a` (units,) is trainable, `count` () is non-trainable."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.var = self.add_weight(name="var_a", shape=(self.units,),
                                   initializer=keras.initializers.RandomUniform(0.5, 1.5),
                                   trainable=True)
        self.cnt = self.add_weight(name="count", shape=(),
                                   initializer=keras.initializers.Constant(0.25), trainable=False)

    def call(self, x):
        return x * self.var + self.cnt

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="MyPkg", name="my_act")
def my_act(x):
    return keras.ops.tanh(x) * 2.0


class Block(keras.layers.Layer):
    """Sublayers as a public attribute, a list, a dict holding a list, and a private attribute."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1 = keras.layers.Dense(4)
        self.bn = keras.layers.BatchNormalization()
        self.pair = [keras.layers.Dense(4), keras.layers.Dense(4)]
        self.nested = {"x": [keras.layers.Dense(4)], "y": keras.layers.LayerNormalization()}
        self._private = keras.layers.Dense(4)

    def call(self, x, training=None):
        h = self.bn(self.d1(x), training=training)
        h = self.pair[1](self.pair[0](h))
        h = self.nested["y"](self.nested["x"][0](h))
        return self._private(h)


@keras.saving.register_keras_serializable()   # "Custom>Sub"
class Sub(keras.Model):
    """Subclassed model: attributes `block`, `zhead`, `ahead` (sorted around "layers")."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block = Block(name="block")
        self.zhead = keras.layers.Dense(2)
        self.ahead = keras.layers.Dense(2)

    def call(self, x, training=None):
        h = self.block(x, training=training)
        return self.zhead(h) + self.ahead(h)


@tf_keras.saving.register_keras_serializable(package="MyPkg", name="Scaler")
class TfkScaleLayer(tf_keras.layers.Layer):
    """tf_keras twin of ScaleLayer (same registered key "MyPkg>Scaler")."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.var = self.add_weight(name="var_a", shape=(self.units,),
                                   initializer=tf_keras.initializers.RandomUniform(0.5, 1.5),
                                   trainable=True)
        self.cnt = self.add_weight(name="count", shape=(),
                                   initializer=tf_keras.initializers.Constant(0.25),
                                   trainable=False)

    def call(self, x):
        return x * self.var + self.cnt

    def get_config(self):
        return {**super().get_config(), "units": self.units}


# --------------------------------------------------------------------------------------------
# Describing files
# --------------------------------------------------------------------------------------------

def sha256(b):
    return hashlib.sha256(b).hexdigest()


def jsonable(v):
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8")
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.tolist()] if v.ndim else jsonable(v.item())
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return jsonable(v.item())
    if isinstance(v, float) and not np.isfinite(v):
        return repr(v)
    return v


_CSET = {h5py.h5t.CSET_ASCII: "ascii", h5py.h5t.CSET_UTF8: "utf8"}
_STRPAD = {h5py.h5t.STR_NULLTERM: "nullterm", h5py.h5t.STR_NULLPAD: "nullpad",
           h5py.h5t.STR_SPACEPAD: "spacepad"}
_CLASS = {h5py.h5t.INTEGER: "integer", h5py.h5t.FLOAT: "float", h5py.h5t.STRING: "string",
          h5py.h5t.OPAQUE: "opaque", h5py.h5t.COMPOUND: "compound", h5py.h5t.ENUM: "enum",
          h5py.h5t.ARRAY: "array", h5py.h5t.VLEN: "vlen", h5py.h5t.BITFIELD: "bitfield",
          h5py.h5t.REFERENCE: "reference"}
_LAYOUT = {h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.CHUNKED: "chunked",
           h5py.h5d.COMPACT: "compact"}
_FILTERS = {h5py.h5z.FILTER_DEFLATE: "deflate", h5py.h5z.FILTER_SHUFFLE: "shuffle",
            h5py.h5z.FILTER_FLETCHER32: "fletcher32", h5py.h5z.FILTER_SZIP: "szip",
            h5py.h5z.FILTER_SCALEOFFSET: "scaleoffset", h5py.h5z.FILTER_NBIT: "nbit"}


def describe_attrs(attrs):
    values, types = {}, {}
    for name in attrs:
        aid = attrs.get_id(name)
        tid = aid.get_type()
        cls = tid.get_class()
        shape = list(aid.shape) if aid.shape is not None else None
        if cls == h5py.h5t.STRING:
            t = {"class": "string", "vlen": bool(tid.is_variable_str()),
                 "cset": _CSET[tid.get_cset()], "strpad": _STRPAD[tid.get_strpad()],
                 "shape": shape}
            if not t["vlen"]:
                t["size"] = tid.get_size()
        else:
            t = {"class": _CLASS.get(cls, str(cls)), "dtype": aid.dtype.str, "shape": shape}
            if aid.dtype.kind != "V":
                t["dtype"] = aid.dtype.name
        v = jsonable(attrs[name])
        if name in ("model_config", "training_config") and isinstance(v, str):
            v = json.loads(v)
        values[name], types[name] = v, t
    return values, types


def describe_dataset(d):
    arr = np.asarray(d[()])
    assert arr.flags.c_contiguous
    attrs, attr_types = describe_attrs(d.attrs)
    dt = d.dtype
    logical = "bfloat16" if (dt.kind == "V" and attrs.get("dtype") == "bfloat16") else dt.name
    plist = d.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    e = {"dtype": logical, "h5_dtype": dt.str,
         "h5_class": _CLASS[d.id.get_type().get_class()],
         "shape": list(d.shape), "nbytes": int(arr.nbytes), "sha256": sha256(arr.tobytes()),
         "layout": _LAYOUT[plist.get_layout()], "offset": d.id.get_offset(),
         "storage_size": int(d.id.get_storage_size()),
         "chunks": list(d.chunks) if d.chunks else None,
         "filters": [_FILTERS.get(f, str(f)) for f in filters]}
    if attrs:
        e["attrs"], e["attr_types"] = attrs, attr_types
    return e


def describe_h5_obj(f, size):
    groups, datasets = {}, {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            datasets["/" + name] = describe_dataset(obj)
        elif isinstance(obj, h5py.Group):
            a, t = describe_attrs(obj.attrs)
            groups["/" + name] = {"attrs": a, "attr_types": t}
        else:
            raise AssertionError(f"unexpected object {name}")

    # no soft/external links in Keras files: check before walking
    def check_links(g):
        for k in g:
            link = g.get(k, getlink=True)
            assert isinstance(link, h5py.HardLink), (g.name, k, link)
            if isinstance(g[k], h5py.Group):
                check_links(g[k])

    check_links(f)
    f.visititems(visit)
    ra, rt = describe_attrs(f.attrs)
    return {"kind": "h5", "size": size, "root_attrs": ra, "root_attr_types": rt,
            "groups": groups, "datasets": datasets}


def describe_h5_file(path):
    with h5py.File(path, "r") as f:
        return describe_h5_obj(f, os.path.getsize(path))


def describe_h5_bytes(b):
    with h5py.File(io.BytesIO(b), "r") as f:
        return describe_h5_obj(f, len(b))


def zip_members(raw):
    out = []
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        for zi in zf.infolist():
            h = zi.header_offset
            (sig, ver, flags, method, _t, _d, _crc, _cs, _us, nlen,
             elen) = struct.unpack("<IHHHHHIIIHH", raw[h:h + 30])
            assert sig == 0x04034B50, zi.filename
            extra = raw[h + 30 + nlen:h + 30 + nlen + elen]
            tags, i = [], 0
            while i + 4 <= len(extra):
                tag, n = struct.unpack("<HH", extra[i:i + 4])
                tags.append(tag)
                i += 4 + n
            out.append({"name": zi.filename, "method": method, "flags": flags,
                        "header_offset": h, "data_offset": h + 30 + nlen + elen,
                        "compressed_size": zi.compress_size, "size": zi.file_size,
                        "crc32": zi.CRC, "external_attr": zi.external_attr,
                        "version_needed": ver, "local_extra_len": elen,
                        "central_extra_len": len(zi.extra), "local_zip64": 1 in tags,
                        "sha256": sha256(zf.read(zi.filename))})
    return out


def describe_keras(path):
    with open(path, "rb") as f:
        raw = f.read()
    members = zip_members(raw)
    names = [m["name"] for m in members]
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        config = json.loads(zf.read("config.json"))
        metadata = json.loads(zf.read("metadata.json")) if "metadata.json" in names else None
        wname = "model.weights.h5" if "model.weights.h5" in names else "model.weights.npz"
        weights = describe_h5_bytes(zf.read(wname)) if wname.endswith(".h5") else None
        assets = {n: zf.read(n).decode("utf-8") for n in names if n.startswith("assets/")}
    return {"kind": "keras", "size": len(raw), "members": members, "config": config,
            "metadata": metadata, "weights_member": wname, "weights": weights,
            "assets": assets}


def describe_keras_dir(path):
    files = sorted(os.path.relpath(os.path.join(dp, f), path)
                   for dp, _, fs in os.walk(path) for f in fs)
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(path, "metadata.json")) as f:
        metadata = json.load(f)
    return {"kind": "keras_dir", "files": files, "config": config, "metadata": metadata,
            "weights": describe_h5_file(os.path.join(path, "model.weights.h5"))}


def describe_weights_json(path):
    with open(path) as f:
        index = json.load(f)
    shards = sorted({s for v in index["weight_map"].values()
                     for s in ([v] if isinstance(v, str) else v)})
    return {"kind": "weights_json", "index": index, "shards": shards}


def describe_file(path):
    if os.path.isdir(path):
        return describe_keras_dir(path)
    if path.endswith(".keras"):
        return describe_keras(path)
    if path.endswith(".json"):
        return describe_weights_json(path)
    return describe_h5_file(path)


# --------------------------------------------------------------------------------------------
# Verification: re-read everything independently of the description code paths where possible
# --------------------------------------------------------------------------------------------

def _roundtrip(x):
    return json.loads(json.dumps(x, sort_keys=True))


def check_h5_raw(entry, raw, base, label):
    """Bytes at base+offset of every contiguous dataset == the array bytes (zero-copy claim);
    values re-read with plain h5py indexing match the recorded sha256."""
    with h5py.File(io.BytesIO(raw[base:base + entry["size"]]), "r") as f:
        for path, d in entry["datasets"].items():
            ds = f[path]
            data = ds[...].tobytes() if ds.shape != () else np.asarray(ds[()]).tobytes()
            assert sha256(data) == d["sha256"], (label, path)
            assert list(ds.shape) == d["shape"], (label, path)
            if d["dtype"] == "bfloat16":
                v = np.frombuffer(data, ml_dtypes.bfloat16)
                assert d["h5_dtype"] == "|V2" and v.size == int(np.prod(d["shape"]))
            if d["layout"] == "contiguous" and d["offset"] is not None:
                o = base + d["offset"]
                assert raw[o:o + d["nbytes"]] == data, (label, path, "bytes at offset")
                assert d["storage_size"] == d["nbytes"], (label, path)
        seen = set()
        f.visit(lambda n: seen.add("/" + n))
        assert seen == set(entry["datasets"]) | set(entry["groups"]), (label, "object set")


def verify_files(case_dir, files):
    for rel, entry in files.items():
        path = os.path.join(case_dir, rel)
        again = _roundtrip(describe_file(path))
        assert again == _roundtrip(entry), f"{rel}: re-read description differs"
        if entry["kind"] == "h5":
            with open(path, "rb") as f:
                check_h5_raw(entry, f.read(), 0, rel)
        elif entry["kind"] == "keras_dir":
            with open(os.path.join(path, "model.weights.h5"), "rb") as f:
                check_h5_raw(entry["weights"], f.read(), 0, rel)
        elif entry["kind"] == "keras" and entry["weights"] is not None:
            with open(path, "rb") as f:
                raw = f.read()
            m = next(m for m in entry["members"] if m["name"] == entry["weights_member"])
            if m["method"] == zipfile.ZIP_STORED:
                # the member is a byte-exact slice of the archive: read it in place
                check_h5_raw(entry["weights"], raw, m["data_offset"], rel)
            else:
                with zipfile.ZipFile(path) as zf:
                    check_h5_raw(entry["weights"], zf.read(m["name"]), 0, rel)


def weights_summary(model, k3=True):
    ws = model.get_weights()
    meta = [{"path": (v.path if k3 else v.name), "dtype": np.asarray(w).dtype.name,
             "shape": list(np.shape(w))} for v, w in zip(model.weights, ws)]
    return [sha256(np.ascontiguousarray(w).tobytes()) for w in ws], meta


def to_f64_list(y):
    if isinstance(y, (list, tuple)):
        return [to_f64_list(v) for v in y]
    return np.asarray(y).astype(np.float64).tolist()


def predict_record(model, x):
    y = model.predict(x, verbose=0)
    if isinstance(x, (list, tuple)):
        inp = [np.asarray(v).tolist() if np.asarray(v).dtype.kind in "OSU"
               else np.asarray(v, np.float64).tolist() for v in x]
    elif isinstance(x, tf.Tensor) and x.dtype == tf.string:
        inp = jsonable(x.numpy())
    else:
        inp = np.asarray(x, np.float64).tolist()
    return {"input": inp, "output": to_f64_list(y)}


def load_weights_into(model, path):
    """load_weights into a fresh model whose optimizer is built (so optimizer state loads too)."""
    opt = getattr(model, "optimizer", None)
    if opt is not None and isinstance(opt, keras.optimizers.Optimizer) and not opt.built:
        opt.build(model.trainable_variables)
    model.load_weights(path)
    return model


def check_model(label, model, expected, x, k3=True, rtol=1e-5, atol=1e-6):
    hashes, _ = weights_summary(model, k3)
    assert hashes == expected["keras_get_weights"], f"{label}: get_weights differ"
    got = to_f64_list(model.predict(x, verbose=0))
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected["predict"]["output"]),
                               rtol=rtol, atol=atol, err_msg=label)
    print(f"  reloaded {label}: weights and predict match")


# --------------------------------------------------------------------------------------------
# Case plumbing
# --------------------------------------------------------------------------------------------

def fresh_dir(name):
    path = os.path.join(ROOT, name)
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def k3_seed(n=0):
    keras.backend.clear_session()
    keras.utils.set_random_seed(n)


def tfk_seed(n=0):
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(n)
    tf.random.set_seed(n)
    np.random.seed(n)


def write_expected(case_dir, description, rels, model=None, x=None, k3=True, extra=None):
    files = {rel: describe_file(os.path.join(case_dir, rel)) for rel in rels}
    for rel, e in list(files.items()):
        if e["kind"] == "weights_json":
            for s in e["shards"]:
                files[s] = describe_file(os.path.join(case_dir, s))
    doc = {"description": description, "generator": GENERATOR, "files": files}
    if model is not None:
        doc["keras_get_weights"], doc["keras_weights_meta"] = weights_summary(model, k3)
        doc["predict"] = predict_record(model, x)
    if extra:
        doc.update(extra)
    with open(os.path.join(case_dir, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True, allow_nan=False)
        f.write("\n")
    with open(os.path.join(case_dir, "expected.json")) as f:
        doc = json.load(f)
    verify_files(case_dir, doc["files"])
    return doc


def rng_data(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def fit_one_step(model, x, y):
    n = (x[0] if isinstance(x, list) else x).shape[0]
    model.fit(x, y, epochs=1, batch_size=n, verbose=0, shuffle=False)


# --------------------------------------------------------------------------------------------
# Keras 3 cases
# --------------------------------------------------------------------------------------------

def k3_seq_model():
    k3_seed(0)
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(2)], name="seq")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse",
                  metrics=["mae", keras.metrics.RootMeanSquaredError()])
    return model


def case_k3_seq():
    d = fresh_dir("k3_seq")
    model = k3_seq_model()
    x, y = rng_data(1, (8, 4), (8, 2))
    fit_one_step(model, x, y)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save(p("k3_seq.keras"))
    model.save_weights(p("k3_seq.weights.h5"))
    # 288 bytes of arrays; 100-byte shards -> rollover per array gives >= 3 shards
    model.save_weights(p("k3_seq_sharded.weights.json"), max_shard_size=100 / 1024**3)
    model.save(p("k3_seq_dir"), zipped=False)
    saving_lib.save_model(model, p("k3_seq_npz.keras"), weights_format="npz")
    model.save(p("k3_seq_legacy.h5"))    # last: it pops "optimizer" out of the compile config
    xp = rng_data(99, (3, 4))[0]
    rels = ["k3_seq.keras", "k3_seq.weights.h5", "k3_seq_sharded.weights.json", "k3_seq_dir",
            "k3_seq_npz.keras", "k3_seq_legacy.h5"]
    doc = write_expected(
        d, "Keras 3 Sequential 'seq' (Input 4, Dense(3, relu), Dense(2)), Adam(0.01), loss mse, "
        "metrics [mae, RootMeanSquaredError], trained one step. k3_seq.keras (in-memory write "
        "path), k3_seq.weights.h5 (save_weights, sec2 driver: dense offsets), sharded "
        "k3_seq_sharded.weights.json (max_shard_size=100 bytes -> >=3 shards; later shards' "
        "groups lack @name), k3_seq_dir (zipped=False directory), k3_seq_npz.keras "
        "(weights_format='npz': pickled objects, unloadable by Keras; weights=null here), "
        "k3_seq_legacy.h5 (model.save('x.h5'), legacy full-model format, K3 flavour).",
        rels, model, xp)
    shards = doc["files"]["k3_seq_sharded.weights.json"]["shards"]
    assert len(shards) >= 3, shards
    m = keras.saving.load_model(p("k3_seq.keras"))
    check_model("k3_seq.keras", m, doc, xp)
    check_model("k3_seq_dir", keras.saving.load_model(p("k3_seq_dir")), doc, xp)
    check_model("k3_seq_legacy.h5", keras.saving.load_model(p("k3_seq_legacy.h5"),
                                                            compile=False), doc, xp)
    for w in ["k3_seq.weights.h5", "k3_seq_sharded.weights.json"]:
        m2 = load_weights_into(k3_seq_model(), p(w))
        check_model(w, m2, doc, xp)


def k3_func_model():
    k3_seed(0)
    in_a = keras.Input((4,), name="in_a")
    in_b = keras.Input((2,), name="in_b")
    inner = keras.Sequential([keras.Input((4,)),
                              keras.layers.BatchNormalization(name="inner_bn"),
                              keras.layers.Dense(3, name="inner_dense")], name="inner_seq")
    h = ScaleLayer(3, name="scale")(inner(in_a))
    c = keras.layers.Concatenate(name="concat")([h, in_b])
    out = keras.layers.Dense(2, activation=my_act, name="out")(c)
    model = keras.Model([in_a, in_b], out, name="func")
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def case_k3_func():
    d = fresh_dir("k3_func")
    model = k3_func_model()
    xa, xb, y = rng_data(2, (8, 4), (8, 2), (8, 2))
    fit_one_step(model, [xa, xb], y)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save(p("k3_func.keras"))
    model.save_weights(p("k3_func.weights.h5"))
    model.save(p("k3_func_legacy.h5"))
    xp = rng_data(98, (3, 4), (3, 2))
    doc = write_expected(
        d, "Keras 3 Functional 'func': inputs in_a (4) and in_b (2); nested Sequential "
        "'inner_seq' [BatchNormalization 'inner_bn', Dense(3) 'inner_dense']; custom registered "
        "ScaleLayer 'scale' (MyPkg>Scaler: trainable var_a (3,), non-trainable scalar count); "
        "Concatenate 'concat'; Dense(2) 'out' with the registered activation MyPkg>my_act. "
        "SGD(0.01), mse, trained one step (BN moving stats updated). Layer groups are named "
        "from class names (layers/sequential/layers/batch_normalization, layers/scale_layer, "
        "layers/input_layer_1 ...). k3_func_legacy.h5 is the K3 legacy full-model H5 "
        "(weight_names like 'inner_seq/inner_bn/gamma', nested model flattened "
        "trainable-then-non-trainable). predict.input is [in_a, in_b].",
        ["k3_func.keras", "k3_func.weights.h5", "k3_func_legacy.h5"], model, xp)
    check_model("k3_func.keras", keras.saving.load_model(p("k3_func.keras")), doc, xp)
    check_model("k3_func_legacy.h5",
                keras.saving.load_model(p("k3_func_legacy.h5"), compile=False), doc, xp)
    m2 = load_weights_into(k3_func_model(), p("k3_func.weights.h5"))
    check_model("k3_func.weights.h5", m2, doc, xp)


def k3_sub_model():
    k3_seed(0)
    model = Sub(name="sub")
    model(np.zeros((1, 3), np.float32))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def case_k3_sub():
    d = fresh_dir("k3_sub")
    model = k3_sub_model()
    x, y = rng_data(3, (8, 3), (8, 2))
    fit_one_step(model, x, y)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save_weights(p("k3_sub.weights.h5"))
    model.save(p("k3_sub.keras"))
    xp = rng_data(97, (3, 3))[0]
    doc = write_expected(
        d, "Keras 3 subclassed model Sub 'sub' (registered Custom>Sub) with attributes block "
        "(custom Block layer: d1 Dense, bn BatchNormalization, pair=[Dense, Dense], "
        "nested={'x': [Dense], 'y': LayerNormalization}, _private Dense), zhead and ahead "
        "(Dense). Adam(0.01), trained one step (38 optimizer vars). Paths: ahead/vars, "
        "block/_private/vars (private attrs last), block/nested/container/dense/vars, "
        "block/pair/dense_1/vars, layers/dense/vars = zhead (after 'layers' in sort order).",
        ["k3_sub.weights.h5", "k3_sub.keras"], model, xp)
    check_model("k3_sub.keras", keras.saving.load_model(p("k3_sub.keras")), doc, xp)
    m2 = load_weights_into(k3_sub_model(), p("k3_sub.weights.h5"))
    check_model("k3_sub.weights.h5", m2, doc, xp)


def k3_shared_model():
    k3_seed(0)
    a = keras.Input((3,), name="in_a")
    b = keras.Input((3,), name="in_b")
    shared = keras.layers.Dense(3, activation="relu", name="shared")
    c = keras.layers.Concatenate(name="concat")([shared(a), shared(b)])
    out = keras.layers.Dense(2, name="dense_2")(c)
    model = keras.Model([a, b], out, name="shared_model")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def case_k3_shared():
    d = fresh_dir("k3_shared")
    model = k3_shared_model()
    xa, xb, y = rng_data(4, (8, 3), (8, 3), (8, 2))
    fit_one_step(model, [xa, xb], y)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save(p("k3_shared.keras"))
    model.save_weights(p("k3_shared.weights.h5"))
    xp = rng_data(96, (3, 3), (3, 3))
    doc = write_expected(
        d, "Keras 3 Functional with a shared Dense 'shared' called on both inputs (two inbound "
        "nodes; second output referenced as ['shared', 1, 0]), Concatenate, Dense 'dense_2'. "
        "Stored once: 'shared' at layers/dense, 'dense_2' at layers/dense_1. Adam, one step. "
        "predict.input is [in_a, in_b].",
        ["k3_shared.keras", "k3_shared.weights.h5"], model, xp)
    check_model("k3_shared.keras", keras.saving.load_model(p("k3_shared.keras")), doc, xp)
    m2 = load_weights_into(k3_shared_model(), p("k3_shared.weights.h5"))
    check_model("k3_shared.weights.h5", m2, doc, xp)


def k3_half_model(kind):
    k3_seed(0)
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(3, activation="relu", dtype=kind, name="half"),
                              keras.layers.Dense(2, dtype="mixed_" + kind, name="mixed")],
                             name="seq_" + kind)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
    return model


def _case_half(kind, short):
    d = fresh_dir(f"k3_{short}")
    model = k3_half_model(kind)
    x, y = rng_data(5, (8, 4), (8, 2))
    fit_one_step(model, x, y)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save(p(f"k3_{short}.keras"))
    model.save_weights(p(f"k3_{short}.weights.h5"))
    xp = rng_data(95, (3, 4))[0]
    how = ("bfloat16 variables are stored as HDF5 OPAQUE (|V2) with a dataset attribute "
           "dtype='bfloat16'" if kind == "bfloat16" else "float16 variables are <f2")
    doc = write_expected(
        d, f"Keras 3 Sequential: Dense 'half' with dtype policy '{kind}' (variables {kind}) and "
        f"Dense 'mixed' with '{'mixed_' + kind}' (variables float32). SGD(momentum=0.9), one "
        f"step: the momentum slots have the variables' dtypes. {how}.",
        [f"k3_{short}.keras", f"k3_{short}.weights.h5"], model, xp)
    check_model(f"k3_{short}.keras", keras.saving.load_model(p(f"k3_{short}.keras")), doc, xp,
                rtol=1e-2, atol=1e-2)
    m2 = load_weights_into(k3_half_model(kind), p(f"k3_{short}.weights.h5"))
    check_model(f"k3_{short}.weights.h5", m2, doc, xp, rtol=1e-2, atol=1e-2)


def case_k3_f16():
    _case_half("float16", "f16")


def case_k3_bf16():
    _case_half("bfloat16", "bf16")


def case_k3_int8():
    d = fresh_dir("k3_int8")
    k3_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense"),
                              keras.layers.Dense(2, use_bias=False, name="nobias")],
                             name="quant")
    model.quantize("int8")
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save(p("k3_int8.keras"))
    xp = rng_data(94, (3, 4))[0]
    doc = write_expected(
        d, "Keras 3 Sequential of two Dense layers (the second without bias) after "
        "model.quantize('int8'), not compiled: vars are kernel int8, [bias], kernel_scale "
        "float32; QuantizedDTypePolicy in config.json.", ["k3_int8.keras"], model, xp)
    check_model("k3_int8.keras", keras.saving.load_model(p("k3_int8.keras")), doc, xp)


def chunk_names(prefix):
    """Seven layer names; #2 is 9300 characters, so the fixed-length |S9300 array of all names
    is 7 * 9300 = 65100 bytes > 64512 (HDF5_OBJECT_HEADER_LIMIT): Keras splits it with
    np.array_split into layer_names0 (4 names) and layer_names1 (3 names), NULLPAD. The spec's
    files used 330 names of 205 characters; that is the same layout at ~575 KB per file, too big
    to commit three times. The long-named layer is weightless so the long name is not repeated in
    weight_names and dataset paths."""
    names = []
    for i in range(N_CHUNK):
        if i == 2:
            names.append((f"{prefix}_{i}_long_" + "0123456789" * 930)[:9300])
        else:
            names.append(f"{prefix}_{i}_" + "n" * (7 * i))
    return names


N_CHUNK = 7
WEIGHTED = (0, 3, 6)


def k3_chunked_model():
    k3_seed(0)
    layers = [keras.Input((1,))]
    for i, name in enumerate(chunk_names("k3layer")):
        layers.append(keras.layers.Dense(1, name=name) if i in WEIGHTED
                      else keras.layers.Identity(name=name))
    return keras.Sequential(layers, name="chunky")


def case_k3_chunked():
    d = fresh_dir("k3_chunked")
    model = k3_chunked_model()
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save(p("k3_chunked.h5"))
    xp = np.array([[0.5], [-1.0], [2.0]], np.float32)
    doc = write_expected(
        d, f"Keras 3 legacy full-model H5 of a Sequential 'chunky' with {N_CHUNK} layers "
        f"(Dense(1) at {list(WEIGHTED)}, Identity otherwise); layer #2 has a 9300-character name, "
        "so the fixed-length array of names (7 x 9300 bytes) exceeds the 64512-byte object-header "
        "limit and model_weights carries layer_names0 (4 names) and layer_names1 (3 names), "
        "|S9300 NULLPAD, and no layer_names. Not compiled (no training_config, no "
        "optimizer_weights).",
        ["k3_chunked.h5"], model, xp)
    mw = doc["files"]["k3_chunked.h5"]["groups"]["/model_weights"]
    assert "layer_names" not in mw["attrs"] and "layer_names1" in mw["attrs"], mw["attrs"].keys()
    check_model("k3_chunked.h5", keras.saving.load_model(p("k3_chunked.h5"), compile=False), doc,
                xp)


def k3_tv_model():
    k3_seed(0)
    tv = keras.layers.TextVectorization(max_tokens=12, output_sequence_length=4, name="tv")
    tv.adapt(tf.constant(["hello world", "hello keras", "the quick brown fox",
                          "hello fox world", "keras saves models"]))
    model = keras.Sequential([keras.Input((1,), dtype="string"), tv,
                              keras.layers.Embedding(12, 2, name="emb"),
                              keras.layers.GlobalAveragePooling1D(name="pool"),
                              keras.layers.Dense(1, name="out")], name="tv_model")
    return model


def case_k3_assets():
    d = fresh_dir("k3_assets")
    model = k3_tv_model()
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save(p("k3_tv.keras"))
    orig = saving_lib.is_memory_sufficient
    saving_lib.is_memory_sufficient = lambda m: False     # force the large-model write path
    try:
        model.save(p("k3_bigpath.keras"))
    finally:
        saving_lib.is_memory_sufficient = orig
    model.save(os.path.abspath(p("k3_tv_dir")), zipped=False)
    xp = tf.constant([["hello world"], ["quick unknown fox"], [""]])
    doc = write_expected(
        d, "Keras 3 Sequential 'tv_model' [TextVectorization 'tv' (adapted; max_tokens 12, "
        "output_sequence_length 4), Embedding(12, 2), GlobalAveragePooling1D, Dense(1)], not "
        "compiled. k3_tv.keras: members metadata.json, config.json, model.weights.h5, then the "
        "assets assets/layers/text_vectorization/vocabulary.txt and "
        "assets/layers/text_vectorization/_lookup_layer/vocabulary.txt. k3_bigpath.keras: the "
        "same model saved with saving_lib.is_memory_sufficient patched to return False, so "
        "the weights go to a temp file (sec2 driver) and model.weights.h5 is the LAST member, "
        "added with zf.write (external_attr 0x81800000, file mtime). k3_tv_dir: zipped=False "
        "directory saved with an ABSOLUTE path: assets/ is written (DiskIOStore joins its temp "
        "dir with the absolute root path, which yields the real dir; with a relative path the "
        "assets land in a temp dir and are lost, the bug the spec describes). "
        "predict.input is a list of 1-element string rows.",
        ["k3_tv.keras", "k3_bigpath.keras", "k3_tv_dir"], model, xp)
    big = [m["name"] for m in doc["files"]["k3_bigpath.keras"]["members"]]
    assert big[-1] == "model.weights.h5" and any(n.startswith("assets/") for n in big), big
    assert any(f.startswith("assets") for f in doc["files"]["k3_tv_dir"]["files"])
    for n in ["k3_tv.keras", "k3_bigpath.keras", "k3_tv_dir"]:
        check_model(n, keras.saving.load_model(p(n)), doc, xp)


# --------------------------------------------------------------------------------------------
# tf_keras cases
# --------------------------------------------------------------------------------------------

def tfk_seq_model(legacy=False):
    tfk_seed(0)
    layers = [tf_keras.layers.Dense(3, activation="relu", input_shape=(4,), name="dense")]
    if legacy:
        layers.append(tf_keras.layers.Dropout(0.25, name="dropout"))
    layers.append(tf_keras.layers.Dense(2, name="dense_1"))
    model = tf_keras.Sequential(layers, name="sequential")
    opt = (tf_keras.optimizers.legacy.Adam(0.01) if legacy else tf_keras.optimizers.Adam(0.01))
    model.compile(optimizer=opt, loss="mse", metrics=["mae"])
    return model


def case_tfk_seq():
    d = fresh_dir("tfk_seq")
    model = tfk_seq_model()
    x, y = rng_data(6, (8, 4), (8, 2))
    fit_one_step(model, x, y)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save(p("tfk_seq.h5"))
    model.save_weights(p("tfk_seq_w.h5"))
    model.save(p("tfk_seq.keras"))
    xp = rng_data(93, (3, 4))[0]
    doc = write_expected(
        d, "tf_keras Sequential (Dense(3, relu) 'dense', Dense(2) 'dense_1'), new "
        "tf_keras.optimizers.Adam(0.01), mse, metrics [mae], trained one step. tfk_seq.h5: "
        "full-model legacy H5 (weight names 'dense/kernel:0'; optimizer_weights 'iteration:0', "
        "'Adam/m/dense/kernel:0', ...; training_config optimizer 'Custom>Adam'). tfk_seq_w.h5: "
        "save_weights('x.h5'), layer_names etc. at the file root. tfk_seq.keras: tf_keras's "
        ".keras (Keras-2 saving_lib: no @name attrs, metric variables saved, no learning_rate "
        "in optimizer/vars).",
        ["tfk_seq.h5", "tfk_seq_w.h5", "tfk_seq.keras"], model, xp, k3=False)
    check_model("tfk_seq.h5", tf_keras.models.load_model(p("tfk_seq.h5")), doc, xp, k3=False)
    check_model("tfk_seq.keras", tf_keras.models.load_model(p("tfk_seq.keras")), doc, xp,
                k3=False)
    m2 = load_weights_into(tfk_seq_model(), p("tfk_seq_w.h5"))
    check_model("tfk_seq_w.h5", m2, doc, xp, k3=False)


def case_tfk_legacy_adam():
    d = fresh_dir("tfk_legacy_adam")
    model = tfk_seq_model(legacy=True)
    x, y = rng_data(7, (8, 4), (8, 2))
    fit_one_step(model, x, y)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save(p("tfk_seq_legacy_adam.h5"))
    xp = rng_data(92, (3, 4))[0]
    doc = write_expected(
        d, "tf_keras Sequential (Dense, Dropout, Dense) trained one step with "
        "tf_keras.optimizers.legacy.Adam(0.01); full-model H5: optimizer_weights "
        "'Adam/iter:0', all m slots ('Adam/dense/kernel/m:0', ...) then all v slots; the "
        "weightless Dropout is in layer_names with an empty float64 weight_names.",
        ["tfk_seq_legacy_adam.h5"], model, xp, k3=False)
    check_model("tfk_seq_legacy_adam.h5",
                tf_keras.models.load_model(p("tfk_seq_legacy_adam.h5")), doc, xp, k3=False)


def tfk_func_model():
    tfk_seed(0)
    in_a = tf_keras.Input((4,), name="in_a")
    in_b = tf_keras.Input((2,), name="in_b")
    inner = tf_keras.Sequential([tf_keras.layers.BatchNormalization(input_shape=(4,),
                                                                    name="inner_bn"),
                                 tf_keras.layers.Dense(3, name="inner_dense")], name="inner_seq")
    h = TfkScaleLayer(3, name="scale")(inner(in_a))
    c = tf_keras.layers.Concatenate(name="concat")([h, in_b])
    out = tf_keras.layers.Dense(2, name="out")(c)
    model = tf_keras.Model([in_a, in_b], out, name="func")
    model.compile(optimizer=tf_keras.optimizers.Adam(0.01), loss="mse")
    return model


def case_tfk_func():
    d = fresh_dir("tfk_func")
    model = tfk_func_model()
    xa, xb, y = rng_data(8, (8, 4), (8, 2), (8, 2))
    fit_one_step(model, [xa, xb], y)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save(p("tfk_func.h5"))
    model.save_weights(p("tfk_func_w.h5"))
    xp = rng_data(91, (3, 4), (3, 2))
    doc = write_expected(
        d, "tf_keras Functional 'func': in_a (4), nested Sequential 'inner_seq' "
        "[BatchNormalization 'inner_bn', Dense(3) 'inner_dense'], custom registered layer "
        "'scale' (MyPkg>Scaler, var_a trainable + count non-trainable), in_b (2), Concatenate, "
        "Dense(2) 'out'. Adam(0.01), one step. tfk_func.h5 full model (inner_seq is one layer "
        "group whose weight_names list gamma, beta, kernel, bias, moving_mean, moving_variance: "
        "trainable then non-trainable); tfk_func_w.h5 save_weights('x.h5'). "
        "predict.input is [in_a, in_b].",
        ["tfk_func.h5", "tfk_func_w.h5"], model, xp, k3=False)
    check_model("tfk_func.h5", tf_keras.models.load_model(p("tfk_func.h5")), doc, xp, k3=False)
    m2 = load_weights_into(tfk_func_model(), p("tfk_func_w.h5"))
    check_model("tfk_func_w.h5", m2, doc, xp, k3=False)


def tfk_chunked_model():
    tfk_seed(0)
    layers = []
    for i, name in enumerate(chunk_names("tfklayer")):
        kw = {"input_shape": (1,)} if i == 0 else {}
        layers.append(tf_keras.layers.Dense(1, name=name, **kw) if i in WEIGHTED
                      else tf_keras.layers.Activation("linear", name=name, **kw))
    return tf_keras.Sequential(layers, name="chunky")


def case_tfk_chunked():
    d = fresh_dir("tfk_chunked")
    model = tfk_chunked_model()
    p = lambda n: os.path.join(d, n)  # noqa: E731
    model.save(p("tfk_chunked.h5"))
    model.save_weights(p("tfk_chunked_w.h5"))
    xp = np.array([[0.5], [-1.0], [2.0]], np.float32)
    doc = write_expected(
        d, f"tf_keras Sequential 'chunky' of {N_CHUNK} layers (Dense(1) at {list(WEIGHTED)}, "
        "Activation('linear') otherwise), layer #2 with a 9300-character name, not compiled. "
        "tfk_chunked.h5 (full model: model_weights@layer_names0 (4) / layer_names1 (3), "
        "|S9300 NULLPAD) and "
        "tfk_chunked_w.h5 (save_weights('x.h5'): the chunked layer_names0/1 are root "
        "attributes).", ["tfk_chunked.h5", "tfk_chunked_w.h5"], model, xp, k3=False)
    assert "layer_names1" in doc["files"]["tfk_chunked_w.h5"]["root_attrs"]
    assert "layer_names1" in doc["files"]["tfk_chunked.h5"]["groups"]["/model_weights"]["attrs"]
    check_model("tfk_chunked.h5", tf_keras.models.load_model(p("tfk_chunked.h5")), doc, xp,
                k3=False)
    m2 = load_weights_into(tfk_chunked_model(), p("tfk_chunked_w.h5"))
    check_model("tfk_chunked_w.h5", m2, doc, xp, k3=False)


# --------------------------------------------------------------------------------------------
# Derived: real Keras files re-packed into layouts Keras never writes
# --------------------------------------------------------------------------------------------

def _copy_attrs(src, dst):
    for k in src.attrs:
        dst.attrs.create(k, src.attrs[k], dtype=src.attrs.get_id(k).dtype)


def _repack_h5(src_path, dst_path):
    """Copy a K3 weights file, cycling dataset layouts: chunked, chunked+deflate,
    chunked+shuffle+deflate, compact, contiguous (scalars cannot be chunked: compact)."""
    modes = ["chunked", "deflate", "shuffle_deflate", "compact", "contiguous"]
    counter = [0]
    with h5py.File(src_path, "r") as src, h5py.File(dst_path, "w") as dst:
        _copy_attrs(src, dst)

        def walk(sg, dg):
            for k in sorted(sg):
                o = sg[k]
                if isinstance(o, h5py.Group):
                    g = dg.create_group(k)
                    _copy_attrs(o, g)
                    walk(o, g)
                    continue
                arr = o[()]
                mode = modes[counter[0] % len(modes)]
                counter[0] += 1
                if o.shape == () and mode != "contiguous":
                    mode = "compact"
                kw = {}
                if mode in ("chunked", "deflate", "shuffle_deflate"):
                    kw["chunks"] = tuple(max(1, (s + 1) // 2) for s in o.shape)
                if mode == "deflate":
                    kw["compression"] = "gzip"
                if mode == "shuffle_deflate":
                    kw.update(compression="gzip", shuffle=True)
                if mode == "compact":
                    space = h5py.h5s.create_simple(o.shape) if o.shape else h5py.h5s.create(
                        h5py.h5s.SCALAR)
                    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
                    dcpl.set_layout(h5py.h5d.COMPACT)
                    tid = h5py.h5t.py_create(o.dtype)
                    dsid = h5py.h5d.create(dg.id, k.encode(), tid, space, dcpl=dcpl)
                    ds = h5py.Dataset(dsid)
                    ds[()] = arr
                else:
                    ds = dg.create_dataset(k, data=arr, **kw)
                _copy_attrs(o, ds)

        walk(src, dst)


def _rezip(src, dst, compression=zipfile.ZIP_STORED, force_zip64=False):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for zi in zin.infolist():
            data = zin.read(zi.filename)
            info = zipfile.ZipInfo(zi.filename, date_time=zi.date_time)
            info.compress_type = compression
            info.external_attr = zi.external_attr
            with zout.open(info, "w", force_zip64=force_zip64) as f:
                f.write(data)


def case_derived():
    d = fresh_dir("derived")
    model = k3_seq_model()
    x, y = rng_data(1, (8, 4), (8, 2))
    fit_one_step(model, x, y)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    tmp = p("_src.keras")
    model.save(tmp)
    _rezip(tmp, p("k3_seq_deflated.keras"), zipfile.ZIP_DEFLATED)
    _rezip(tmp, p("k3_seq_zip64.keras"), zipfile.ZIP_STORED, force_zip64=True)
    os.remove(tmp)
    tmp = p("_src.weights.h5")
    model.save_weights(tmp)
    _repack_h5(tmp, p("k3_seq_layouts.weights.h5"))
    os.remove(tmp)
    xp = rng_data(99, (3, 4))[0]
    doc = write_expected(
        d, "DERIVED (not written by Keras, but loaded by Keras 3.15.1 in this script): the "
        "k3_seq model (same seed/training as k3_seq, so the same weights) re-packed. "
        "k3_seq_deflated.keras: every member ZIP_DEFLATED (zipfile). k3_seq_zip64.keras: "
        "members STORED, written with zipfile force_zip64=True (local zip64 extra of 20 bytes, "
        "version 45, local sizes 0xFFFFFFFF; no zip64 extra in the central directory). "
        "k3_seq_layouts.weights.h5: h5py copy of save_weights output with datasets cycling "
        "chunked / chunked+gzip / chunked+shuffle+gzip / compact / contiguous layouts (scalars "
        "compact or contiguous), same groups and attributes.",
        ["k3_seq_deflated.keras", "k3_seq_zip64.keras", "k3_seq_layouts.weights.h5"], model, xp)
    f = doc["files"]
    assert all(m["method"] == 8 for m in f["k3_seq_deflated.keras"]["members"])
    assert all(m["local_zip64"] for m in f["k3_seq_zip64.keras"]["members"])
    layouts = {v["layout"] for v in f["k3_seq_layouts.weights.h5"]["datasets"].values()}
    assert layouts == {"chunked", "compact", "contiguous"}, layouts
    for n in ["k3_seq_deflated.keras", "k3_seq_zip64.keras"]:
        check_model(n, keras.saving.load_model(p(n)), doc, xp)
    m2 = load_weights_into(k3_seq_model(), p("k3_seq_layouts.weights.h5"))
    check_model("k3_seq_layouts.weights.h5", m2, doc, xp)


CASES = {
    "k3_seq": case_k3_seq,
    "k3_func": case_k3_func,
    "k3_sub": case_k3_sub,
    "k3_shared": case_k3_shared,
    "k3_f16": case_k3_f16,
    "k3_bf16": case_k3_bf16,
    "k3_int8": case_k3_int8,
    "k3_chunked": case_k3_chunked,
    "k3_assets": case_k3_assets,
    "tfk_seq": case_tfk_seq,
    "tfk_legacy_adam": case_tfk_legacy_adam,
    "tfk_func": case_tfk_func,
    "tfk_chunked": case_tfk_chunked,
    "derived": case_derived,
}


def main(argv):
    os.makedirs(ROOT, exist_ok=True)
    unknown = [n for n in argv if n not in CASES]
    assert not unknown, f"unknown case(s) {unknown}; known: {list(CASES)}"
    for n in argv or list(CASES):
        print(f"case {n}")
        CASES[n]()
    sizes = {}
    for dp, _, fs in os.walk(ROOT):
        for f in fs:
            case = os.path.relpath(dp, ROOT).split(os.sep)[0]
            sizes[case] = sizes.get(case, 0) + os.path.getsize(os.path.join(dp, f))
    for c in sorted(sizes):
        print(f"  {c:18s} {sizes[c]:>9d} bytes")
    total = sum(sizes.values())
    print(f"tests/data/keras: {total} bytes")
    assert total < MAX_TOTAL, f"fixtures must stay well under 3 MB (limit {MAX_TOTAL})"


if __name__ == "__main__":
    main(sys.argv[1:])
