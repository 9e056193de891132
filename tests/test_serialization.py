"""serialize_keras_object / deserialize_keras_object against every config real Keras wrote.

No layer classes exist in these tests: a dry registry files small recorder classes under the Keras
names the fixtures use (tests/data/keras: config.json of every ``.keras`` archive and directory,
``model_config`` / ``training_config`` of every legacy ``.h5``). Keras 3 configs must come back
byte-identical after deserialize -> serialize (shared-object ids renumbered); Keras 2 / tf_keras
configs must resolve record by record. Then the grammar piece by piece, and every safe-mode
refusal of ``keras_formats.md`` §6.3.
"""

from __future__ import annotations

import json
import threading
import warnings
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import pytest

import kerasave as ks
from kerasave.errors import UnknownObjectError, UnsafeConfigError
from kerasave.saving import registry, safe_mode, serialization
from kerasave.saving.registry import register_builtin, register_keras_serializable
from kerasave.saving.safe_mode import SafeModeScope, in_safe_mode
from kerasave.saving.serialization import (
    ObjectSharingScope,
    deserialize_keras_object,
    serialize_keras_object,
)

KERAS_DIR = Path(__file__).resolve().parent / "data" / "keras"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets empty registries, an empty built-in table and no ambient settings."""
    monkeypatch.setattr(registry, "_GLOBAL_CUSTOM_OBJECTS", {})
    monkeypatch.setattr(registry, "_GLOBAL_CUSTOM_NAMES", {})
    monkeypatch.setattr(registry, "_BUILTINS", registry._BuiltinTable())
    registry._STATE.scope_dict = {}
    safe_mode._STATE.value = None
    yield
    registry._STATE.scope_dict = {}
    safe_mode._STATE.value = None


# -- the dry registry --------------------------------------------------------------------------


class Recorder:
    """Stands in for a Keras class: keeps its config, deserializing nested records generically."""

    model_like = False

    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = config
        self.built = False
        self.build_config: Optional[dict] = None
        self.compile_config: Optional[dict] = None

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Recorder":
        # Runs inside deserialize_keras_object's scopes, like a real from_config.
        return cls({k: deserialize_keras_object(v) for k, v in config.items()})

    def get_config(self) -> Dict[str, Any]:
        return dict(self.config)

    def build_from_config(self, build_config: dict) -> None:
        self.build_config = build_config

    def get_build_config(self) -> Optional[dict]:
        return self.build_config

    def compile_from_config(self, compile_config: dict) -> None:
        self.compile_config = compile_config

    def get_compile_config(self) -> Optional[dict]:
        if self.model_like:
            return self.compile_config or {}
        return None


class FunctionalRecorder(Recorder):
    """Functional keeps ``name`` / ``inbound_nodes`` beside each layer record, as Keras does."""

    model_like = True

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Recorder":
        out: Dict[str, Any] = {}
        for key, value in config.items():
            if key != "layers":
                out[key] = deserialize_keras_object(value)
                continue
            layers = []
            for record in value:
                record = dict(record)
                extras = {k: record.pop(k) for k in ("name", "inbound_nodes") if k in record}
                if "inbound_nodes" in extras:
                    extras["inbound_nodes"] = [
                        {k: deserialize_keras_object(v) for k, v in node.items()}
                        if isinstance(node, dict)
                        else node  # Keras 2: [[name, node, tensor, kwargs], ...]
                        for node in extras["inbound_nodes"]
                    ]
                layers.append((deserialize_keras_object(record), extras))
            out[key] = layers
        return cls(out)

    def get_config(self) -> Dict[str, Any]:
        out = dict(self.config)
        layers = []
        for layer, extras in self.config["layers"]:
            record = serialize_keras_object(layer)
            for key, value in extras.items():
                if key == "inbound_nodes":
                    value = [
                        {k: serialize_keras_object(v) for k, v in node.items()}
                        if isinstance(node, dict)
                        else node
                        for node in value
                    ]
                record[key] = value
            layers.append(record)
        out["layers"] = layers
        return out


BUILTINS: Dict[str, List[str]] = {
    "keras.layers": [
        "Activation",
        "BatchNormalization",
        "Concatenate",
        "Dense",
        "Dropout",
        "Embedding",
        "GlobalAveragePooling1D",
        "Identity",
        "InputLayer",
        "TextVectorization",
    ],
    "keras": ["Sequential", "DTypePolicy"],
    "keras.dtype_policies": ["QuantizedDTypePolicy"],
    "keras.quantizers": ["AbsMaxQuantizer", "Int8QuantizationConfig"],
    "keras.initializers": ["GlorotUniform", "Ones", "RandomUniform", "Zeros"],
    "keras.optimizers": ["Adam", "SGD"],
    "keras.optimizers.schedules": ["ExponentialDecay"],
    "keras.metrics": ["MeanMetricWrapper", "MeanSquaredError", "RootMeanSquaredError"],
    "keras.losses": ["Huber"],
}
MODELS = {"Sequential", "Functional", "Sub"}


def my_act(x: Any) -> Any:
    return x


def my_loss(y_true: Any, y_pred: Any) -> Any:
    return y_pred


def install_dry_registry() -> Dict[str, type]:
    """Recorder classes for every name the fixtures use; returns them by name."""
    classes: Dict[str, type] = {}
    for module, names in BUILTINS.items():
        for name in names:
            cls = type(name, (Recorder,), {"model_like": name in MODELS})
            aliases = ["keras.models.Sequential"] if name == "Sequential" else []
            register_builtin(module, name, cls, aliases=aliases)
            classes[name] = cls
    functional = type("Functional", (FunctionalRecorder,), {})
    register_builtin("keras.src.models.functional", "Functional", functional)
    classes["Functional"] = functional
    # Custom objects as the fixture scripts defined them: in __main__, so "module": null.
    for cls_name, package, name in [("ScaleLayer", "MyPkg", "Scaler"), ("Sub", "Custom", None)]:
        cls = type(cls_name, (Recorder,), {"model_like": cls_name in MODELS})
        cls.__module__ = "__main__"
        register_keras_serializable(package, name)(cls)
        classes[cls_name] = cls
    register_keras_serializable("MyPkg")(my_act)
    register_keras_serializable("MyPkg")(my_loss)
    return classes


# -- the fixtures' configs ---------------------------------------------------------------------


def keras3_config_texts() -> List[Tuple[str, str]]:
    """(id, config.json text) of every .keras archive and unzipped model directory."""
    out = []
    for path in sorted(KERAS_DIR.glob("*/*.keras")):
        with zipfile.ZipFile(path) as zf:
            out.append((f"{path.parent.name}/{path.name}", zf.read("config.json").decode()))
    for path in sorted(KERAS_DIR.glob("*/*/config.json")):
        out.append((f"{path.parent.parent.name}/{path.parent.name}", path.read_text()))
    return out


def legacy_h5_configs() -> List[Tuple[str, str, Any]]:
    """(id, attribute, JSON) of every legacy .h5 model_config / training_config."""
    out = []
    for path in sorted(KERAS_DIR.glob("*/*.h5")):
        with ks.open(path) as store:
            if store.format != "legacy_h5_model":
                continue
            name = f"{path.parent.name}/{path.name}"
            out.append((name, "model_config", store.config))
            training = store.metadata.get("training_config")
            if training is not None:
                out.append((name, "training_config", training))
    return out


KERAS3 = keras3_config_texts()
LEGACY = legacy_h5_configs()


def test_fixture_lists_are_complete() -> None:
    keras_files = {i for i, _ in KERAS3}
    assert {"k3_func/k3_func.keras", "k3_sub/k3_sub.keras", "k3_int8/k3_int8.keras",
            "tfk_seq/tfk_seq.keras", "k3_seq/k3_seq_dir", "k3_assets/k3_tv_dir"} <= keras_files
    assert len(KERAS3) >= 14
    legacy = {(i, a) for i, a, _ in LEGACY}
    assert ("tfk_func/tfk_func.h5", "model_config") in legacy
    assert ("tfk_seq/tfk_seq.h5", "training_config") in legacy
    assert ("k3_func/k3_func_legacy.h5", "model_config") in legacy
    assert len({i for i, _, _ in LEGACY}) == 7


def walk_records(tree: Any) -> Iterator[dict]:
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from walk_records(value)
    elif isinstance(tree, (list, tuple)):
        for value in tree:
            yield from walk_records(value)


def renumber_shared_ids(tree: Any) -> Any:
    """Shared ids are ``id(obj)``: renumber them by first appearance.

    Keras sometimes leaves an id on a single record (it serialized that object once more into a
    copy it then dropped, e.g. ``quantization_config`` in k3_int8); such an id shares nothing, so
    it is dropped here.
    """
    tree = json.loads(json.dumps(tree))
    counts: Dict[int, int] = {}
    for record in walk_records(tree):
        if "shared_object_id" in record:
            counts[record["shared_object_id"]] = counts.get(record["shared_object_id"], 0) + 1
    numbers: Dict[int, int] = {}
    for record in walk_records(tree):
        if "shared_object_id" in record:
            old = record["shared_object_id"]
            if counts[old] < 2:
                del record["shared_object_id"]
            else:
                record["shared_object_id"] = numbers.setdefault(old, len(numbers) + 1)
    return tree


@pytest.mark.parametrize("name,text", KERAS3, ids=[i for i, _ in KERAS3])
def test_keras3_config_round_trips_byte_identical(name: str, text: str) -> None:
    install_dry_registry()
    original = json.loads(text)
    assert json.dumps(original) == text  # config.json is plain json.dumps output
    model = deserialize_keras_object(original)
    with ObjectSharingScope():
        again = serialize_keras_object(model)
    assert json.dumps(renumber_shared_ids(again)) == json.dumps(renumber_shared_ids(original))
    check_recognised(original, model)


@pytest.mark.parametrize("name,attr,config", LEGACY, ids=[f"{i}:{a}" for i, a, _ in LEGACY])
def test_legacy_h5_configs_are_recognised(name: str, attr: str, config: Any) -> None:
    install_dry_registry()
    obj = deserialize_keras_object(config)
    check_recognised(config, obj)
    if attr == "model_config":
        assert isinstance(obj, Recorder) and type(obj).__name__ == config["class_name"]


def test_tf_keras_details_resolve() -> None:
    classes = install_dry_registry()
    by_key = {(i, a): c for i, a, c in LEGACY}
    func = deserialize_keras_object(by_key[("tfk_func/tfk_func.h5", "model_config")])
    layers = {extras["name"]: (layer, extras) for layer, extras in func.config["layers"]}
    scale, extras = layers["scale"]
    assert type(scale) is classes["ScaleLayer"]  # "class_name": "MyPkg>Scaler"
    assert extras["inbound_nodes"] == [[["inner_seq", 1, 0, {}]]]
    assert layers["in_a"][0].config["batch_input_shape"] == [None, 4]
    inner_seq = layers["inner_seq"][0]
    assert [type(layer).__name__ for layer in inner_seq.config["layers"]] == [
        "InputLayer", "BatchNormalization", "Dense"]
    bn = inner_seq.config["layers"][1]
    assert type(bn.config["gamma_initializer"]) is classes["Ones"]
    training = deserialize_keras_object(by_key[("tfk_seq/tfk_seq.h5", "training_config")])
    assert type(training["optimizer_config"]) is classes["Adam"]  # "Custom>Adam"
    legacy_adam = deserialize_keras_object(
        by_key[("tfk_legacy_adam/tfk_seq_legacy_adam.h5", "training_config")]
    )
    [[wrapper]] = legacy_adam["metrics"]
    assert type(wrapper) is classes["MeanMetricWrapper"]
    assert wrapper.config["fn"] == "mean_absolute_error"


def check_recognised(original: Any, obj: Any) -> None:
    """Every record of ``original`` became the right object, holding the same config."""
    if isinstance(original, dict) and "class_name" in original and "config" in original:
        class_name = original["class_name"]
        if class_name == "__keras_tensor__":
            cfg = original["config"]
            assert obj.shape == tuple(cfg["shape"])
            assert obj.dtype == cfg["dtype"]
            assert obj._pre_serialization_keras_history == cfg["keras_history"]
            return
        if class_name == "function":
            assert callable(obj)
            assert ks.saving.get_registered_name(obj) == original["config"]
            return
        assert isinstance(obj, Recorder), (class_name, obj)
        names = {type(obj).__name__, ks.saving.get_registered_name(type(obj))}
        assert class_name in names or class_name == "Custom>" + type(obj).__name__, class_name
        if original.get("build_config"):
            assert obj.build_config == original["build_config"]
        if original.get("compile_config"):
            assert obj.compile_config == original["compile_config"]
        config = original["config"]
        assert list(obj.config) == list(config)
        for key, value in config.items():
            if isinstance(obj, FunctionalRecorder) and key == "layers":
                assert len(value) == len(obj.config["layers"])
                for record, (layer, extras) in zip(value, obj.config["layers"]):
                    record = dict(record)
                    nodes = record.pop("inbound_nodes", None)
                    assert record.pop("name", None) == extras.get("name")
                    check_recognised(record, layer)
                    if nodes is not None:
                        check_recognised(nodes, extras["inbound_nodes"])
            else:
                check_recognised(value, obj.config[key])
    elif isinstance(original, dict):
        assert isinstance(obj, dict) and list(obj) == list(original)
        for key, value in original.items():
            check_recognised(value, obj[key])
    elif isinstance(original, list):
        assert isinstance(obj, list) and len(obj) == len(original)
        for a, b in zip(original, obj):
            check_recognised(a, b)
    else:
        assert obj == original and type(obj) is type(original)


def test_shared_objects_come_back_as_one_instance() -> None:
    install_dry_registry()
    text = dict(KERAS3)["k3_func/k3_func.keras"]
    model = deserialize_keras_object(json.loads(text))
    layers = {extras["name"]: layer for layer, extras in model.config["layers"]}
    policies = [
        layers["inner_seq"].config["dtype"],
        layers["scale"].config["dtype"],
        layers["concat"].config["dtype"],
        layers["out"].config["dtype"],
        layers["inner_seq"].config["layers"][2].config["dtype"],
    ]
    assert all(p is policies[0] for p in policies)
    # inner_bn's policy carried no id: a separate object.
    assert layers["inner_seq"].config["layers"][1].config["dtype"] is not policies[0]


# -- serialization, piece by piece -------------------------------------------------------------


def fn(module: str, name: str) -> dict:
    return {"module": module, "class_name": "function", "config": name,
            "registered_name": "function"}


def krec(module: Optional[str], class_name: str, config: Optional[dict] = None,
        registered_name: Optional[str] = None) -> dict:
    return {"module": module, "class_name": class_name, "config": config or {},
            "registered_name": registered_name}


class Thing:
    """A duck-typed Keras object."""

    def __init__(self, **config: Any) -> None:
        self.config = config

    def get_config(self) -> dict:
        return dict(self.config)

    @classmethod
    def from_config(cls, config: dict) -> "Thing":
        return cls(**config)


def test_plain_values_and_containers() -> None:
    assert serialize_keras_object(None) is None
    for value in ("s", 3, 2.5, True):
        assert serialize_keras_object(value) == value
    assert serialize_keras_object([1, (2, 3), {"a": [None]}]) == [1, (2, 3), {"a": [None]}]
    assert isinstance(serialize_keras_object((1, 2)), tuple)  # JSON writes it as a list
    assert json.dumps(serialize_keras_object((1, (2,)))) == "[1, [2]]"


def test_numpy_values() -> None:
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    rec = serialize_keras_object(arr)
    assert rec == {
        "class_name": "__numpy__",
        "config": {"value": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], "dtype": "float32"},
    }
    back = deserialize_keras_object(rec)
    assert back.dtype == np.float32 and np.array_equal(back, arr)
    assert serialize_keras_object(np.float32(1.5)) == 1.5
    assert type(serialize_keras_object(np.int64(7))) is int
    assert serialize_keras_object(np.array(3)) == 3
    assert serialize_keras_object(np.dtype("float16")) == "float16"
    assert serialize_keras_object(np.int8) == "int8"
    assert serialize_keras_object(np.array([True, False]))["config"]["dtype"] == "bool"
    tensor = {"class_name": "__tensor__", "config": {"value": [1, 2], "dtype": "int32"}}
    assert deserialize_keras_object(tensor).dtype == np.int32
    with pytest.raises(TypeError, match="unsupported dtype"):
        deserialize_keras_object(
            {"class_name": "__numpy__", "config": {"value": [1], "dtype": "object_"}})


def test_bfloat16_arrays() -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    arr = np.array([1.5, -2.0], dtype=ml_dtypes.bfloat16)
    rec = serialize_keras_object(arr)
    assert rec["config"] == {"value": [1.5, -2.0], "dtype": "bfloat16"}
    json.dumps(rec)
    back = deserialize_keras_object(rec)
    assert back.dtype == arr.dtype and np.array_equal(back, arr)


def test_bytes_slices_ellipsis() -> None:
    for value, record in [
        (b"abc", {"class_name": "__bytes__", "config": {"value": "abc"}}),
        (slice(1, None, 2),
         {"class_name": "__slice__", "config": {"start": 1, "stop": None, "step": 2}}),
        (Ellipsis, {"class_name": "__ellipsis__", "config": {}}),
    ]:
        assert serialize_keras_object(value) == record
        assert deserialize_keras_object(record) == value


def test_keras_tensor_records() -> None:
    record = {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None, 3], "dtype": "float32", "keras_history": ["dense", 0, 0]},
    }
    tensor = deserialize_keras_object(record)
    assert tensor.shape == (None, 3)
    assert tensor._pre_serialization_keras_history == ["dense", 0, 0]
    assert json.loads(json.dumps(serialize_keras_object(tensor))) == record


def test_registered_keras_tensor_class_is_used() -> None:
    class KerasTensor:
        def __init__(self, shape: Any, dtype: Any = None) -> None:
            self.shape, self.dtype = shape, dtype
            self._keras_history = None

    class Layer:
        name = "dense"

    register_builtin("keras", "KerasTensor", KerasTensor)
    record = {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None, 3], "dtype": "float32", "keras_history": ["dense", 0, 0]},
    }
    tensor = deserialize_keras_object(record)
    assert isinstance(tensor, KerasTensor) and tensor.shape == (None, 3)
    assert tensor._pre_serialization_keras_history == ["dense", 0, 0]
    tensor._keras_history = (Layer(), 0, 0)
    assert json.loads(json.dumps(serialize_keras_object(tensor))) == record


def test_functions() -> None:
    @register_keras_serializable("MyPkg")
    def act(x: Any) -> Any:
        return x

    def plain(x: Any) -> Any:
        return x

    rec = serialize_keras_object(act)
    assert rec == {"module": "builtins", "class_name": "function", "config": "MyPkg>act",
                   "registered_name": "function"}
    assert deserialize_keras_object(rec) is act
    assert serialize_keras_object(plain)["config"] == "plain"
    rec = serialize_keras_object(plain)
    assert deserialize_keras_object(rec, custom_objects={"plain": plain}) is plain
    # A kerasave built-in function: found by name in Keras's built-in function namespaces.
    register_builtin("keras.activations", "relu", plain)
    rec = serialize_keras_object(plain)
    assert rec == {"module": "builtins", "class_name": "function", "config": "relu",
                   "registered_name": "function"}
    assert deserialize_keras_object(rec) is plain


def test_function_records_from_keras_3_6_by_bare_name() -> None:
    @register_keras_serializable("MyPkg")
    def my_fn(x: Any) -> Any:
        return x

    rec = fn("builtins", "my_fn")
    assert deserialize_keras_object(rec) is my_fn


def test_builtin_class_records() -> None:
    Dense = register_builtin("keras.layers", "Dense", type("Dense", (Thing,), {}))
    Functional = register_builtin(
        "keras.src.models.functional", "Functional", type("Functional", (Thing,), {})
    )
    assert serialize_keras_object(Dense(units=3)) == {
        "module": "keras.layers", "class_name": "Dense", "config": {"units": 3},
        "registered_name": None}
    assert serialize_keras_object(Functional(name="f")) == {
        "module": "keras.src.models.functional", "class_name": "Functional",
        "config": {"name": "f"}, "registered_name": "Functional"}
    for module in ("keras.layers", "keras.src.layers.core.dense"):
        layer = deserialize_keras_object(krec(module, "Dense", {"units": 2}))
        assert type(layer) is Dense and layer.config == {"units": 2}
    # A subclass of a built-in is a custom class, not the built-in.
    Sub = type("MyDense", (Dense,), {})
    assert serialize_keras_object(Sub())["class_name"] == "MyDense"


def test_custom_class_records() -> None:
    @register_keras_serializable("MyPkg", "Scaler")
    class ScaleLayer(Thing):
        pass

    class Unregistered(Thing):
        pass

    rec = serialize_keras_object(ScaleLayer(units=3))
    assert rec == {"module": __name__, "class_name": "ScaleLayer", "config": {"units": 3},
                   "registered_name": "MyPkg>Scaler"}
    assert type(deserialize_keras_object(rec)) is ScaleLayer
    ScaleLayer.__module__ = "__main__"
    assert serialize_keras_object(ScaleLayer())["module"] is None
    rec = serialize_keras_object(Unregistered(a=1))
    assert rec["registered_name"] == "Unregistered" and rec["module"] == __name__
    obj = deserialize_keras_object(rec, custom_objects={"Unregistered": Unregistered})
    assert type(obj) is Unregistered and obj.config == {"a": 1}


def test_build_and_compile_config() -> None:
    class Model(Thing):
        built = False

        def get_build_config(self) -> dict:
            return {"input_shape": (None, 4)}

        def get_compile_config(self) -> dict:
            return {"loss": "mse"}

        def build_from_config(self, config: dict) -> None:
            self.build_args = config

        def compile_from_config(self, config: dict) -> None:
            self.compile_args = config

    register_builtin("keras", "Model", Model)
    rec = serialize_keras_object(Model(name="m"))
    assert list(rec) == ["module", "class_name", "config", "registered_name", "build_config",
                         "compile_config"]
    assert rec["build_config"] == {"input_shape": (None, 4)}
    model = deserialize_keras_object(rec)
    assert model.build_args == {"input_shape": (None, 4)} and model.built is True
    assert model.compile_args == {"loss": "mse"}
    # Empty compile configs are not compiled; build configs skip built instances.
    rec["compile_config"] = {}
    assert not hasattr(deserialize_keras_object(rec), "compile_args")


def test_get_config_must_return_a_dict() -> None:
    class Bad:
        def get_config(self) -> list:
            return []

    with pytest.raises(TypeError, match="should return a dict"):
        serialize_keras_object(Bad())
    with pytest.raises(TypeError, match="Cannot serialize"):
        serialize_keras_object(object())


def test_shared_object_ids_only_inside_a_sharing_scope() -> None:
    policy_cls = register_builtin("keras", "DTypePolicy", type("DTypePolicy", (Recorder,), {}))
    Dense = register_builtin("keras.layers", "Dense", type("Dense", (Recorder,), {}))
    policy = policy_cls({"name": "float32"})
    layers = [Dense({"dtype": policy}), Dense({"dtype": policy}), Dense({"dtype": None})]
    plain = serialize_keras_object(layers)
    assert all("shared_object_id" not in r["config"]["dtype"] for r in plain[:2])
    with ObjectSharingScope():
        shared = serialize_keras_object(layers)
    ids = [r["config"]["dtype"].get("shared_object_id") for r in shared[:2]]
    assert ids[0] == ids[1] == id(policy)
    assert "shared_object_id" not in shared[0]  # the layers themselves are distinct
    back = deserialize_keras_object(shared)
    assert back[0].config["dtype"] is back[1].config["dtype"]
    back = deserialize_keras_object(plain)
    assert back[0].config["dtype"] is not back[1].config["dtype"]


def test_sharing_scopes_nest() -> None:
    register_builtin("keras", "DTypePolicy", type("DTypePolicy", (Thing,), {}))
    policy = registry.lookup_builtin("keras", "DTypePolicy")(name="float32")
    with ObjectSharingScope():
        first = serialize_keras_object(policy)
        with ObjectSharingScope():
            inner = serialize_keras_object(policy)
        second = serialize_keras_object(policy)
    assert "shared_object_id" not in inner
    assert first["shared_object_id"] == second["shared_object_id"]


def test_lambdas_need_unsafe_mode() -> None:
    fn = lambda x, k=2: x * k  # noqa: E731
    with pytest.warns(UserWarning, match="lambda"):
        rec = serialize_keras_object(fn)
    assert rec["class_name"] == "__lambda__"
    code, defaults, closure = rec["config"]["value"]
    assert isinstance(code, str) and defaults == (2,) and closure is None
    rec = json.loads(json.dumps(rec))
    with pytest.raises(UnsafeConfigError, match="lambda"):
        deserialize_keras_object(rec)
    assert deserialize_keras_object(rec, safe_mode=False)(3) == 6
    with SafeModeScope(False):
        assert deserialize_keras_object(rec)(4) == 8


def test_lambda_closures_round_trip_in_unsafe_mode() -> None:
    scale = 5
    fn = lambda x: x * scale  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = json.loads(json.dumps(serialize_keras_object(fn)))
    assert deserialize_keras_object(rec, safe_mode=False)(2) == 10


# -- deserialization rules ---------------------------------------------------------------------


def test_strings_lists_and_plain_dicts() -> None:
    obj = object()
    assert deserialize_keras_object("relu") == "relu"
    assert deserialize_keras_object("mine", custom_objects={"mine": obj}) is obj
    assert deserialize_keras_object([1, "a", None]) == [1, "a", None]
    assert deserialize_keras_object({"a": {"b": 1}}) == {"a": {"b": 1}}
    # A dict needs both class_name and config to be a record.
    assert deserialize_keras_object({"class_name": "X"}) == {"class_name": "X"}
    assert deserialize_keras_object(None) is None


def test_custom_objects_must_use_the_registered_key() -> None:
    class ScaleLayer(Thing):
        pass

    rec = krec(None, "ScaleLayer", registered_name="MyPkg>Scaler")
    # Keras 3.15.1 (verified): the class name does not match a registered-name record ...
    with pytest.raises(UnknownObjectError, match="pass it under that key"):
        deserialize_keras_object(rec, custom_objects={"ScaleLayer": ScaleLayer})
    # ... the registered key does, from custom_objects or a scope.
    obj = deserialize_keras_object(rec, custom_objects={"MyPkg>Scaler": ScaleLayer})
    assert type(obj) is ScaleLayer
    with ks.utils.custom_object_scope({"MyPkg>Scaler": ScaleLayer}):
        assert type(deserialize_keras_object(rec)) is ScaleLayer


def test_deserialization_lookup_order() -> None:
    # Keras merges {**custom_objects, **scope, **global}: the scope and the registry win.
    def make(tag: str) -> type:
        return type("C", (Thing,), {"tag": tag})

    from_arg, from_scope, from_global = make("arg"), make("scope"), make("global")
    rec = {"module": None, "class_name": "C", "config": {}, "registered_name": "P>C"}
    assert deserialize_keras_object(rec, custom_objects={"P>C": from_arg}).tag == "arg"
    registry._GLOBAL_CUSTOM_OBJECTS["P>C"] = from_global
    assert deserialize_keras_object(rec, custom_objects={"P>C": from_arg}).tag == "global"
    with ks.saving.custom_object_scope({"P>C": from_scope}):
        assert deserialize_keras_object(rec, custom_objects={"P>C": from_arg}).tag == "scope"
    # The registry also beats a built-in of the same name in a Keras 2 record.
    register_builtin("keras.layers", "Dense", make("builtin"))
    assert deserialize_keras_object({"class_name": "Dense", "config": {}}).tag == "builtin"
    registry._GLOBAL_CUSTOM_OBJECTS["Dense"] = from_global
    assert deserialize_keras_object({"class_name": "Dense", "config": {}}).tag == "global"


def test_from_config_sees_every_custom_object() -> None:
    seen = {}

    class Outer(Thing):
        @classmethod
        def from_config(cls, config: dict) -> "Outer":
            seen["inner"] = ks.saving.get_registered_object("Inner")
            seen["safe"] = in_safe_mode()
            return cls(**config)

    inner = object()
    rec = {"module": None, "class_name": "Outer", "config": {}, "registered_name": "Outer"}
    deserialize_keras_object(rec, custom_objects={"Outer": Outer, "Inner": inner}, safe_mode=False)
    assert seen == {"inner": inner, "safe": False}
    assert in_safe_mode() is None


def test_module_objects() -> None:
    class Adam(Thing):
        pass

    def mse(a: Any, b: Any) -> Any:
        return a

    objects = {"Adam": Adam, "mse": mse}
    assert deserialize_keras_object("mse", module_objects=objects) is mse
    assert type(deserialize_keras_object("Adam", module_objects=objects)) is Adam
    keras2 = {"class_name": "Adam", "config": {}}
    assert type(deserialize_keras_object(keras2, module_objects=objects)) is Adam
    assert deserialize_keras_object("other", module_objects=objects) == "other"
    with pytest.raises(TypeError, match="unexpected"):
        deserialize_keras_object("x", bogus=1)


def test_keras2_records() -> None:
    Adam = register_builtin("keras.optimizers", "Adam", type("Adam", (Thing,), {}))
    Dense = register_builtin("keras.layers", "Dense", type("Dense", (Thing,), {}))
    assert type(deserialize_keras_object({"class_name": "Adam", "config": {"lr": 1}})) is Adam
    assert type(deserialize_keras_object({"class_name": "Custom>Adam", "config": {}})) is Adam
    keras2 = {"class_name": "Dense", "config": {"batch_input_shape": [None, 4]}}
    layer = deserialize_keras_object(keras2)
    assert type(layer) is Dense and layer.config == {"batch_input_shape": [None, 4]}
    # "Custom>" falls back to built-ins only for tf_keras's optimizers.
    with pytest.raises(UnknownObjectError, match="'Custom>Dense'"):
        deserialize_keras_object({"class_name": "Custom>Dense", "config": {}})


def test_keras_builtin_missing_from_kerasave_can_be_supplied() -> None:
    rec = {"module": "keras.layers", "class_name": "Foo", "config": {}, "registered_name": None}
    with pytest.raises(UnknownObjectError, match="kerasave has no built-in 'keras.layers.Foo'"):
        deserialize_keras_object(rec)
    Foo = type("Foo", (Thing,), {})
    assert type(deserialize_keras_object(rec, custom_objects={"Foo": Foo})) is Foo


def test_unknown_name_messages() -> None:
    with pytest.raises(UnknownObjectError) as info:
        deserialize_keras_object(krec(None, "Foo", registered_name="Foo"))
    message = str(info.value)
    assert "'Foo'" in message
    assert "register it with @keras.saving.register_keras_serializable()" in message
    assert "custom_objects={'Foo': ...}" in message
    with pytest.raises(UnknownObjectError) as info:
        deserialize_keras_object(krec(None, "ScaleLayer", registered_name="MyPkg>Scaler"))
    message = str(info.value)
    assert "'ScaleLayer' (registered as 'MyPkg>Scaler')" in message
    assert "@keras.saving.register_keras_serializable(package='MyPkg', name='Scaler')" in message
    assert "custom_objects={'MyPkg>Scaler': ...}" in message
    with pytest.raises(UnknownObjectError, match="function 'my_act'.*register it with"):
        deserialize_keras_object(fn("builtins", "my_act"))
    with pytest.raises(UnknownObjectError, match="'Foo'.*register it with"):
        deserialize_keras_object({"class_name": "Foo", "config": {}})
    with pytest.raises(UnknownObjectError, match="'BertBackbone'"):
        deserialize_keras_object({"module": "keras_hub.models", "class_name": "BertBackbone",
                                  "config": {}, "registered_name": "keras_hub>BertBackbone"})
    with pytest.raises(UnknownObjectError, match="TypeSpec"):
        deserialize_keras_object({"class_name": "__typespec__", "spec_name": "TensorSpec",
                                  "module": "tensorflow", "config": [], "registered_name": None})


def test_malformed_records() -> None:
    with pytest.raises(TypeError, match="non-null str"):
        deserialize_keras_object({"module": "builtins", "class_name": "function", "config": {}})
    with pytest.raises(TypeError, match="to be a dict"):
        deserialize_keras_object({"module": "keras.layers", "class_name": "Dense", "config": "x"})
    with pytest.raises(TypeError, match="Could not parse"):
        deserialize_keras_object(object())
    register_builtin("keras.layers", "NoFromConfig", type("NoFromConfig", (), {}))
    with pytest.raises(TypeError, match="from_config"):
        deserialize_keras_object(krec("keras.layers", "NoFromConfig"))


# -- safe mode: keras_formats.md §6.3, row by row ----------------------------------------------

LAMBDA_RECORD = {"class_name": "__lambda__", "config": {"value": ["YWJj\n", None, None]}}


def lambda_layer(config: dict, module: Optional[str] = "keras.layers") -> dict:
    record = {"class_name": "Lambda", "config": {"name": "lam", **config}}
    if module != "-":
        record.update(module=module, registered_name=None)
    return record


def lambda_fn(**config: Any) -> dict:
    return {"class_name": "__lambda__", "config": config}


UNSAFE_IN_SAFE_MODE = {
    "lambda_record": LAMBDA_RECORD,
    "lambda_nested": {"layers": [{"a": [LAMBDA_RECORD]}]},
    "lambda_layer_k3": lambda_layer(
        {"function": lambda_fn(code="YWJj\n", defaults=None, closure=None)}),
    "lambda_layer_k3_output_shape": lambda_layer(
        {"function": "relu", "output_shape": lambda_fn(code="x")}),
    "lambda_layer_internal_module": lambda_layer(
        {"function": lambda_fn(code="x")}, module="keras.src.layers.core.lambda_layer"),
    "lambda_layer_legacy_h5": lambda_layer({"function": lambda_fn(code="x")}, module="-"),
    "lambda_layer_tf_keras": lambda_layer(
        {"function": ["YWJj\n", None, None], "function_type": "lambda", "module": "__main__",
         "output_shape": None, "output_shape_type": "raw", "arguments": {}}, module="-"),
    "tfsmlayer": krec("keras.layers", "TFSMLayer", {"filepath": "/tmp/sm", "call_endpoint": "s"}),
    "string_lookup_vocabulary_path": krec(
        "keras.layers", "StringLookup", {"vocabulary": "/etc/passwd"}),
    "text_vectorization_vocabulary_path": {
        "class_name": "TextVectorization", "config": {"vocabulary": "https://example.com/v.txt"}},
    "torch_module_wrapper": krec("keras.layers", "TorchModuleWrapper", {"module": "gASV..."}),
}

UNSAFE_ALWAYS = {
    "os_system": fn("os", "system"),
    "builtins_eval": fn("builtins", "eval"),
    "builtins_exec": fn("builtins", "exec"),
    "load_model": fn("keras.models", "load_model"),
    "get_file": fn("keras.utils", "get_file"),
    "enable_unsafe": fn("keras.config", "enable_unsafe_deserialization"),
    "saving_load_model_class": krec("keras.saving", "load_model"),
    "subprocess_popen": krec("subprocess", "Popen", {"args": ["id"]}),
    "disk_io_store": krec("keras.src.saving.saving_lib", "DiskIOStore"),
    "keras_utils_other": fn("keras.utils", "to_categorical"),
    "third_party_module": krec("my_pkg.layers", "Custom", registered_name="MyPkg>Custom"),
    "spoofed_registered_name": krec("keras.layers", "Dense", registered_name="Evil>Dense"),
    "as_activation_in_a_layer": krec("keras.layers", "Dense", {"activation": fn("os", "system")}),
}


@pytest.mark.parametrize("name", sorted(UNSAFE_IN_SAFE_MODE))
def test_safe_mode_refuses(name: str) -> None:
    with pytest.raises(UnsafeConfigError):
        deserialize_keras_object(UNSAFE_IN_SAFE_MODE[name])


@pytest.mark.parametrize("name", sorted(UNSAFE_IN_SAFE_MODE))
def test_unsafe_mode_lifts_safe_mode_refusals(name: str) -> None:
    # Without kerasave classes for these layers the names are then merely unknown (the lambda
    # payload is not valid bytecode).
    with pytest.raises((UnknownObjectError, ValueError)) as info:
        deserialize_keras_object(UNSAFE_IN_SAFE_MODE[name], safe_mode=False)
    assert not isinstance(info.value, UnsafeConfigError)


@pytest.mark.parametrize("name", sorted(UNSAFE_ALWAYS))
@pytest.mark.parametrize("safe", [True, False])
def test_refused_even_in_unsafe_mode(name: str, safe: bool) -> None:
    # kerasave's Dense exists here, so only the payload can be refused.
    register_builtin("keras.layers", "Dense", type("Dense", (Recorder,), {}))
    with pytest.raises(UnsafeConfigError):
        deserialize_keras_object(UNSAFE_ALWAYS[name], safe_mode=safe)


def test_refusal_messages() -> None:
    with pytest.raises(UnsafeConfigError, match="not a modeling function"):
        deserialize_keras_object(UNSAFE_ALWAYS["load_model"])
    with pytest.raises(UnsafeConfigError, match="never imports.*register_keras_serializable"):
        deserialize_keras_object(UNSAFE_ALWAYS["os_system"])
    with pytest.raises(UnsafeConfigError, match="Python built-in"):
        deserialize_keras_object(UNSAFE_ALWAYS["builtins_eval"])
    with pytest.raises(UnsafeConfigError, match="Remove the `registered_name`"):
        register_builtin("keras.layers", "Dense", type("Dense", (Recorder,), {}))
        deserialize_keras_object(UNSAFE_ALWAYS["spoofed_registered_name"])
    with pytest.raises(UnsafeConfigError, match="safe_mode=False"):
        deserialize_keras_object(LAMBDA_RECORD)


def test_a_registered_third_party_class_is_fine() -> None:
    @register_keras_serializable("MyPkg", "Custom")
    class Custom(Thing):
        pass

    assert type(deserialize_keras_object(UNSAFE_ALWAYS["third_party_module"])) is Custom


def test_keras_ops_functions_are_allowed_when_kerasave_has_them() -> None:
    def tanh(x: Any) -> Any:
        return x

    rec = fn("keras.ops", "tanh")
    with pytest.raises(UnknownObjectError):
        deserialize_keras_object(rec)
    register_builtin("keras.ops", "tanh", tanh)
    assert deserialize_keras_object(rec) is tanh


def test_user_registered_lambda_class_is_not_second_guessed() -> None:
    @register_keras_serializable("MyPkg", "Lambda")
    class Lambda(Thing):
        pass

    rec = {"module": None, "class_name": "Lambda", "registered_name": "MyPkg>Lambda",
           "config": {"function_type": "lambda"}}
    assert type(deserialize_keras_object(rec)) is Lambda


def test_lambda_guard_applies_to_module_objects_too() -> None:
    Lambda = type("Lambda", (Thing,), {})
    with pytest.raises(UnsafeConfigError):
        deserialize_keras_object(
            UNSAFE_IN_SAFE_MODE["lambda_layer_tf_keras"], module_objects={"Lambda": Lambda})


def test_safe_mode_scope_and_global_switch() -> None:
    assert in_safe_mode() is None
    with SafeModeScope(False):
        assert in_safe_mode() is False
        with SafeModeScope(True):
            assert in_safe_mode() is True
            with pytest.raises(UnsafeConfigError):  # the scope wins over the argument
                deserialize_keras_object(LAMBDA_RECORD, safe_mode=False)
        assert in_safe_mode() is False
    assert in_safe_mode() is None

    seen = []
    ks.config.enable_unsafe_deserialization()
    assert in_safe_mode() is False
    t = threading.Thread(target=lambda: seen.append(in_safe_mode()))
    t.start()
    t.join()
    assert seen == [None]  # per thread, like Keras's global_state
    with pytest.raises(ValueError, match="bytecode"):  # past safe mode, into (bad) bytecode
        deserialize_keras_object(LAMBDA_RECORD, safe_mode=True)


def test_func_load_refuses_outside_unsafe_mode() -> None:
    fn = lambda: 1  # noqa: E731
    dumped = safe_mode.func_dump(fn)
    with pytest.raises(UnsafeConfigError):
        safe_mode.func_load(dumped)
    with SafeModeScope(False):
        assert safe_mode.func_load(dumped)() == 1
        with pytest.raises(ValueError):
            safe_mode.func_load("not base64 bytecode !")


def test_keras_json_round_trip_helpers_exported() -> None:
    assert ks.saving.serialize_keras_object is serialize_keras_object
    assert ks.saving.deserialize_keras_object is deserialize_keras_object
    assert ks.utils.serialize_keras_object is serialize_keras_object
    assert ks.saving.ObjectSharingScope is ObjectSharingScope
    assert ks.saving.SafeModeScope is SafeModeScope
    assert serialization.deserialize_keras_object is deserialize_keras_object
