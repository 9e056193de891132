"""tf_keras SavedModel directories: ``model.save(dir, save_format="tf")`` and
``load_model(dir)``.

Writing (function-free, tf_formats.md §5.6–5.7; keras_formats.md §4)::

    dir/saved_model.pb         SavedObjectGraph in tf_keras layout, no functions or signatures
    dir/keras_metadata.pb      one node per Layer: Keras 2 config + build shape (json_utils)
    dir/fingerprint.pb         checkpoint_hash (FarmHash Fingerprint64 of variables.index) + uuid
    dir/variables/variables.{index,data-00000-of-00001}
                               the variables, keyed by the object graph's BFS paths, with a
                               _CHECKPOINTABLE_OBJECT_GRAPH that mirrors it node for node

The object tree is the tf_keras one (:func:`tf_keras_children`): a Functional/Sequential model
lists ``layer_with_weights-<j>`` then ``layer-<i>`` for each of ``model.layers``; other layers list
their variables (tf_keras names) and their sublayers by attribute (lists and dicts become
``trackable_list_wrapper`` / ``trackable_dict_wrapper`` nodes). The same tree gives the TF
checkpoint keys of ``save_weights("prefix")`` (:func:`kerasave.saving.api.tf_checkpoint_keys`).

Loading rebuilds the model from the root metadata's ``model_config`` (tf_keras's
``json_utils`` encodings undone) and assigns every variable by walking the stored object graph
from the root in step with the model's tree, reading each variable node's ``checkpoint_key``:
no name guessing.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

__all__ = ["keras2_config", "load_saved_model", "save_saved_model", "tf_keras_children"]

#: The tf_keras version whose SavedModel layout the writer follows (metadata ``keras_version``).
TF_KERAS_LAYOUT_VERSION = "2.21.0"
_TF_VERSION = "2.21.0"


# -- the tf_keras object tree ---------------------------------------------------------------

class _Wrapper:
    """A ``trackable_list_wrapper`` / ``trackable_dict_wrapper`` node (a layer attribute that
    holds a list or dict of sublayers)."""

    def __init__(self, identifier: str, children: List[Tuple[str, Any]],
                 version: Tuple[int, int] = (1, 1)) -> None:
        self.identifier = identifier
        self.children = children
        self.version = version


def _optimizer_node(model: Any) -> Optional[_Wrapper]:
    """The model's optimizer in tf_keras's (new optimizer) layout: ``_variables`` (0 is
    ``_iterations``, then the slots in Keras order), ``_iterations``, ``_learning_rate``; None
    when the model has no built optimizer."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(optimizer, "built", False):
        return None
    from kerasave.optimizers._compat import checkpoint_tensors

    tensors = checkpoint_tensors(optimizer, prefix="")
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    iterations = tensors.pop("_iterations" + suffix)
    lr = tensors.pop("_learning_rate" + suffix, None)
    slots = sorted((int(k[len("_variables/"):-len(suffix)]), v) for k, v in tensors.items())
    listed = _Wrapper("trackable_list_wrapper",
                      [("0", iterations)] + [(str(i), v) for i, v in slots])
    children = [("_variables", listed), ("_iterations", iterations)]
    if lr is not None:
        children.append(("_learning_rate", lr))
    return _Wrapper("experimentalOptimizer", children, version=(2, 1))


def _graph_layers(model: Any) -> Optional[List[Any]]:
    """``model.layers`` for Functional/Sequential models (tf_keras's ``layer-<i>`` order), else
    None. Functional-API subclasses count as graph networks (their inner graph's layers)."""
    from kerasave.models.model import Functional, Sequential

    if isinstance(model, (Functional, Sequential)) or \
            getattr(model, "_functional", None) is not None:
        return list(model.layers)
    return None


def tf_keras_children(obj: Any) -> List[Tuple[str, Any]]:
    """The children tf_keras's ``_trackable_children()`` gives a layer, in order.

    Args:
        obj: A layer, a model or a list/dict wrapper from an earlier call.

    Returns:
        ``[(local_name, child)]``; a child is a layer, a :class:`Variable` or a wrapper node.
        Local names are unescaped (``"a/b"`` is one name).
    """
    from kerasave.layers.base import Layer

    if isinstance(obj, _Wrapper):
        return obj.children
    layers = _graph_layers(obj)
    if layers is not None:
        out: List[Tuple[str, Any]] = []
        j = 0
        for i, layer in enumerate(layers):
            if layer.weights:
                out.append((f"layer_with_weights-{j}", layer))
                j += 1
            out.append((f"layer-{i}", layer))
        return out
    rename = getattr(obj, "_TF_CKPT_NAMES", {})
    # An unbuilt layer (a Sequential head never called) has no variables yet.
    own = obj._own_variables() if getattr(obj, "built", True) else []
    out = [(rename.get(v.name, v.name), v) for v in own]
    for attr, value in getattr(obj, "_tracked", {}).items():
        attr = rename.get(attr, attr)
        if isinstance(value, (list, tuple)):
            items = [(str(i), v) for i, v in enumerate(value) if isinstance(v, Layer)]
            if items:
                out.append((attr, _Wrapper("trackable_list_wrapper", items)))
        elif isinstance(value, dict):
            items = [(str(k), v) for k, v in value.items() if isinstance(v, Layer)]
            if items:
                out.append((attr, _Wrapper("trackable_dict_wrapper", items)))
        elif isinstance(value, Layer):
            out.append((attr, value))
    return out


def _children(obj: Any, cache: Optional[Dict[int, List[Tuple[str, Any]]]]) -> \
        List[Tuple[str, Any]]:
    """:func:`tf_keras_children`, memoized in ``cache`` so list/dict wrapper nodes keep one
    identity for the whole walk (and stay alive while ids are compared)."""
    if cache is None:
        return tf_keras_children(obj)
    if id(obj) not in cache:
        cache[id(obj)] = tf_keras_children(obj)
    return cache[id(obj)]


def walk_tree(root: Any, cache: Optional[Dict[int, List[Tuple[str, Any]]]] = None) -> \
        Iterator[Tuple[List[str], Any]]:
    """Breadth-first walk of the tf_keras tree: ``(path, object)`` for each object once, at the
    first (shortest) path that reaches it, as TF's checkpoint key derivation does.

    Args:
        root: The model (or any node).
        cache: Children per object id, filled as the walk goes (pass the same dict to later
            lookups that compare node identities).
    """
    if cache is None:
        cache = {}
    seen = {id(root)}
    queue: List[Tuple[List[str], Any]] = [([], root)]
    while queue:
        path, obj = queue.pop(0)
        yield path, obj
        if _is_variable(obj):
            continue
        for name, child in _children(obj, cache):
            if id(child) not in seen:
                seen.add(id(child))
                queue.append((path + [name], child))


def _is_variable(obj: Any) -> bool:
    from kerasave.layers.base import Variable

    return isinstance(obj, Variable)


# -- Keras 3 config -> Keras 2 (tf_keras) config --------------------------------------------

#: Keys Keras 3 writes that tf_keras constructors reject, dropped when they hold the default.
_K3_ONLY_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "Dense": {"quantization_config": None, "lora_rank": None, "lora_alpha": None},
    "EinsumDense": {"quantization_config": None, "lora_rank": None, "lora_alpha": None},
    "Embedding": {"quantization_config": None, "lora_rank": None, "lora_alpha": None},
    "LayerNormalization": {"rms_scaling": False},
    "MultiHeadAttention": {"seed": None, "use_gate": False, "sliding_window": None},
    "LSTM": {"seed": None}, "GRU": {"seed": None}, "SimpleRNN": {"seed": None},
    "LSTMCell": {"seed": None}, "GRUCell": {"seed": None}, "SimpleRNNCell": {"seed": None},
    "SpatialDropout1D": {"data_format": None}, "SpatialDropout2D": {"data_format": None},
}
_INITIALIZER_K3_ONLY = {"input_axes": None, "output_axes": None}
#: Keras 3 optimizer keys tf_keras's optimizers reject ("... is not a valid argument").
_OPTIMIZER_K3_ONLY = {"loss_scale_factor", "gradient_accumulation_steps"}


#: Activation names tf_keras 2.21 resolves to the same function as Keras 3 (checked on
#: [-5, 5]). Keras 3's hard_sigmoid is relu6(x + 3) / 6, tf_keras's clip(0.2 x + 0.5): same
#: name, different function, so it is not here.
_TFK_ACTIVATIONS = {"elu", "exponential", "gelu", "leaky_relu", "linear", "log_softmax", "mish",
                    "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus",
                    "softsign", "tanh", "swish"}


def _check_activations(name: Any, config: Dict[str, Any]) -> None:
    from kerasave.errors import UnsupportedFormatError

    for key in ("activation", "recurrent_activation"):
        value = config.get(key)
        if isinstance(value, str) and value not in _TFK_ACTIVATIONS:
            raise UnsupportedFormatError(
                f"layer {name!r}: {key} {value!r} has no tf_keras equivalent under that name "
                f"(tf_keras would fail to load it, or compute something else); save the model "
                f"as .keras instead")


def _k2_class_name(record: Dict[str, Any]) -> str:
    """Keras 2 names custom classes by their registered name (``Pkg>Name``); Keras 3 marks
    them with a ``registered_name`` and a module that is None or outside ``keras``."""
    registered = record.get("registered_name")
    module = record.get("module")
    if registered and (module is None or not str(module).startswith("keras")):
        return registered
    return record["class_name"]


def _is_record(x: Any) -> bool:
    return isinstance(x, dict) and "class_name" in x and "config" in x


def _dtype2(x: Any) -> Any:
    """A Keras 3 ``DTypePolicy`` record -> tf_keras's dtype (a name, or a ``Policy`` record
    for mixed precision)."""
    if _is_record(x) and x.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
        name = (x.get("config") or {}).get("name")
        if isinstance(name, str) and name.startswith("mixed_"):
            return {"class_name": "Policy", "config": {"name": name}}
        return name
    return x


def _object2(x: Any) -> Any:
    """Nested Keras 3 records (initializers, regularizers, constraints, dtype policies, ...) ->
    ``{"class_name", "config"}`` with the registered name for custom classes."""
    if isinstance(x, list):
        return [_object2(v) for v in x]
    if not isinstance(x, dict):
        return x
    if _is_record(x):
        dtype = _dtype2(x)
        if dtype is not x:
            return dtype
        if x.get("class_name") == "__tuple__":
            return [_object2(v) for v in x.get("config", {}).get("value", [])]
        if x.get("module") == "builtins" and x.get("class_name") == "function":
            return x["config"]  # a function by name (a metric's ``fn``)
        name = _k2_class_name(x)
        config = x["config"]
        if isinstance(config, dict):
            config = {k: _object2(v) for k, v in config.items()}
            if x.get("module") == "keras.initializers":
                config = {k: v for k, v in config.items()
                          if not (k in _INITIALIZER_K3_ONLY and v is None)}
        return {"class_name": name, "config": config}
    return {k: _object2(v) for k, v in x.items()}


#: Layers whose call takes several tensors positionally; Keras 2 records the second and later
#: ones as keyword arguments (``{"value": [name, node, tensor]}``).
_POSITIONAL_TENSORS = {"MultiHeadAttention": ["query", "value", "key"]}


def _inbound2(nodes: Any, nested_sequential: set, class_name: str = "") -> Any:
    """Keras 3 ``[{"args", "kwargs"}]`` nodes -> Keras 2 ``[[[name, node, tensor, kwargs]]]``.

    Keras 2 numbers a nested Sequential's calls from 1 (node 0 is its own input node);
    Keras 3 already does that for nested Functional models only.
    """
    out = []
    for node in nodes or []:
        if not isinstance(node, dict):
            out.append(node)
            continue
        tensors: List[List[Any]] = []

        def collect(x: Any) -> Any:
            if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
                name, ni, ti = x["config"]["keras_history"]
                if name in nested_sequential:
                    ni += 1
                tensors.append([name, ni, ti])
                return None
            if isinstance(x, list):
                return [collect(v) for v in x]
            if isinstance(x, dict) and not _is_record(x):
                return {k: collect(v) for k, v in x.items()}
            return x

        args = list(node.get("args", []))
        kwargs: Dict[str, Any] = {}
        names = _POSITIONAL_TENSORS.get(class_name)
        if names and len(args) > 1:
            for name, arg in zip(names[1:], args[1:]):
                if isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
                    ln, ni, ti = arg["config"]["keras_history"]
                    kwargs[name] = [ln, ni + (1 if ln in nested_sequential else 0), ti]
            args = args[:1]
        collect(args)
        for k, v in (node.get("kwargs") or {}).items():
            if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
                name, ni, ti = v["config"]["keras_history"]
                kwargs[k] = [name, ni + (1 if name in nested_sequential else 0), ti]
            else:
                kwargs[k] = _object2(v)
        out.append([t + [kwargs] for t in tensors])
    return out


def _layer2(record: Dict[str, Any], drop: frozenset = frozenset()) -> Dict[str, Any]:
    """One Keras 3 layer record -> the tf_keras ``{"class_name", "config"}`` record."""
    class_name = _k2_class_name(record)
    config = record.get("config")
    if isinstance(config, dict):
        if isinstance(config.get("layers"), list):
            config = _model_config2(record["class_name"], config, drop)
        else:
            sub = ("layer", "forward_layer", "backward_layer", "cell")
            _check_activations(config.get("name"), config)
            config = {k: _object2(v) if k not in sub else v for k, v in config.items()}
            for key, default in _K3_ONLY_DEFAULTS.get(record["class_name"], {}).items():
                if key in config and config[key] == default:
                    del config[key]
                elif key in config:
                    from kerasave.errors import UnsupportedFormatError

                    raise UnsupportedFormatError(
                        f"layer {config.get('name')!r} ({record['class_name']}): {key}="
                        f"{config[key]!r} is Keras 3 only; tf_keras has no such option. Save "
                        f"the model as .keras instead")
            if record["class_name"] == "InputLayer" and "batch_shape" in config:
                config["batch_input_shape"] = config.pop("batch_shape")
            if record["class_name"] == "MultiHeadAttention":
                # tf_keras's from_config pops these (None when never built).
                build = record.get("build_config") or {}
                build = build.get("shapes_dict", build)
                for key in ("query_shape", "key_shape", "value_shape"):
                    config.setdefault(key, build.get(key))
                if config.get("key_shape") is None:  # key defaults to value
                    config["key_shape"] = config.get("value_shape")
            if record["class_name"] == "LeakyReLU" and "negative_slope" in config:
                config["alpha"] = config.pop("negative_slope")
            for key in sub:
                if _is_record(config.get(key)):
                    config[key] = _layer2(config[key])
                elif key in config:
                    config[key] = _object2(config[key])
            if isinstance(config.get("cell"), list):
                config["cell"] = [_layer2(c) if _is_record(c) else c for c in config["cell"]]
    return {"class_name": class_name, "config": config}


def _model_config2(class_name: str, config: Dict[str, Any],
                   drop: frozenset = frozenset()) -> Dict[str, Any]:
    nested_sequential = {rec.get("name") or rec.get("config", {}).get("name")
                         for rec in config["layers"] if rec.get("class_name") == "Sequential"}
    layers = []
    for rec in config["layers"]:
        module = str(rec.get("module") or "")
        if module.startswith("keras.src.ops") and rec.get("name") in drop:
            continue  # Keras 3's explicit mask plumbing; tf_keras recomputes it implicitly
        if module.startswith("keras.src.ops"):
            from kerasave.errors import UnsupportedFormatError

            raise UnsupportedFormatError(
                f"model {config.get('name')!r}: node {rec.get('name')!r} is a Keras 3 graph "
                f"operation ({module}.{rec.get('class_name')}), which Keras 2 configs (and so "
                f"tf_keras SavedModels) cannot express; save the model as .keras instead")
        out = _layer2(rec, drop)
        if "inbound_nodes" in rec:
            out["name"] = rec.get("name", out["config"].get("name"))
            out["inbound_nodes"] = _inbound2(rec["inbound_nodes"], nested_sequential,
                                             rec.get("class_name", ""))
        layers.append(out)
    out_config: Dict[str, Any] = {"name": config.get("name")}
    if "trainable" in config and class_name != "Sequential":
        out_config["trainable"] = config["trainable"]
    out_config["layers"] = layers
    for key in ("input_layers", "output_layers"):
        if key in config:
            value = config[key]
            if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
                value = [value]
            out_config[key] = value
    return out_config


def _pre_node(layer: Any) -> bool:
    """Keras 2 gives a nested graph network a node 0 of its own (input to output), so calls
    of it are numbered from 1."""
    from kerasave.models.model import Functional, Sequential

    if isinstance(layer, Functional):
        return True
    if isinstance(layer, Sequential):
        try:
            return bool(layer.inputs)
        except Exception:  # noqa: BLE001 - an unbuilt Sequential has no inputs
            return False
    return False


#: Key of `_graph_inbound`'s entry for the model's own ``input_layers``/``output_layers``
#: triples (not a layer name: layer names are strings).
_MODEL_IO = ("model", "io")


def _graph_inbound(model: Any, drop: frozenset = frozenset()) -> Dict[Any, Any]:
    """Keras 2 ``inbound_nodes`` of a functional model's layers, read from the graph itself
    (``[[[producer, node, tensor, kwargs], ...], ...]``): node indices count the producer's
    calls that belong to this model, from 1 for nested graph networks. Under ``_MODEL_IO``,
    the model's flat input and output triples in that numbering."""
    from kerasave.layers.base import KerasTensor, flatten
    from kerasave.saving.serialization import serialize_keras_object

    own = {id(n) for n in model._nodes}
    index: Dict[int, int] = {}
    for layer in model._operations:
        k = 1 if _pre_node(layer) else 0
        for node in layer._inbound_nodes:
            if id(node) in own:
                index[id(node)] = k
                k += 1

    def triple(t: Any) -> List[Any]:
        layer, ni, ti = t._keras_history
        return [layer.name, index.get(id(layer._inbound_nodes[ni]), ni), ti]

    out: Dict[str, Any] = {}
    # The model's own inputs/outputs in the same numbering (a nested model's output is its
    # call node, numbered from 1 like every other reference to it).
    out[_MODEL_IO] = {"input_layers": [triple(t) for t in model.inputs],
                      "output_layers": [triple(t) for t in model.outputs]}
    for layer in model._operations:
        if layer.name in drop and getattr(layer, "_IS_OPERATION", False):
            continue
        nodes = []
        for node in layer._inbound_nodes:
            if id(node) not in own or node.is_input:
                continue
            args = list(node.call_args)
            kwargs: Dict[str, Any] = {}
            names = _POSITIONAL_TENSORS.get(type(layer).__name__)
            if names and len(args) > 1:
                for name, arg in zip(names[1:], args[1:]):
                    if isinstance(arg, KerasTensor):
                        kwargs[name] = triple(arg)
                args = args[:1]
            for key, value in node.call_kwargs.items():
                if isinstance(value, KerasTensor) and value._keras_history[0].name in drop:
                    continue  # an implicit mask, recomputed by tf_keras
                if isinstance(value, KerasTensor):
                    kwargs[key] = triple(value)
                elif not any(isinstance(v, KerasTensor) for v in flatten(value)):
                    kwargs[key] = _object2(serialize_keras_object(value))
            tensors = [t for t in flatten(args) if isinstance(t, KerasTensor)]
            nodes.append([triple(t) + [kwargs] for t in tensors])
        out[layer.name] = nodes
    return out


_UNKNOWN = object()


def _first_inputs(node: Any) -> List[Any]:
    from kerasave.layers.base import KerasTensor, flatten

    return [t for t in flatten(list(node.call_args)) if isinstance(t, KerasTensor)]


def _implicit_mask(t: Any, memo: Dict[int, Any]) -> Any:
    """The mask tf_keras would attach to ``t`` implicitly: None, ``("neq", id(x), value)`` for
    ``x != value`` (Embedding mask_zero: value 0), ``("masking", id(x), value)`` for
    ``any(x != value, axis=-1)`` (Masking), or ``_UNKNOWN``. Pass-through is decided by the
    layer's own ``compute_mask`` on a sentinel."""
    from kerasave.layers.base import InputLayer

    if id(t) in memo:
        return memo[id(t)]
    layer, ni, _ = t._keras_history
    node = layer._inbound_nodes[ni]
    name = type(layer).__name__
    result: Any
    if isinstance(layer, InputLayer) or node.is_input:
        result = None
    elif getattr(layer, "_IS_OPERATION", False):
        result = _UNKNOWN
    elif name == "Embedding":
        result = ("neq", id(_first_inputs(node)[0]), 0.0) if layer.mask_zero else None
    elif name == "Masking":
        result = ("masking", id(_first_inputs(node)[0]), float(layer.mask_value))
    else:
        firsts = _first_inputs(node)
        masks = [_implicit_mask(x, memo) for x in firsts]
        if all(m is None for m in masks):
            result = None
        elif len(firsts) != 1 or masks[0] is _UNKNOWN:
            result = _UNKNOWN
        else:
            sentinel = object()
            try:
                passed = layer.compute_mask(firsts[0], sentinel)
            except Exception:  # noqa: BLE001 - any computation on the sentinel: not a pass-through
                passed = _UNKNOWN
            result = masks[0] if passed is sentinel else None if passed is None else _UNKNOWN
    memo[id(t)] = result
    return result


def _op_mask(t: Any) -> Any:
    """The mask an op chain computes (same encoding as :func:`_implicit_mask`), or None."""
    from kerasave.layers.base import KerasTensor

    layer, ni, _ = t._keras_history
    if not getattr(layer, "_IS_OPERATION", False):
        return None
    node = layer._inbound_nodes[ni]
    args = list(node.call_args)
    name = type(layer).__name__
    if name == "NotEqual" and len(args) == 2 and isinstance(args[0], KerasTensor) and \
            isinstance(args[1], (int, float)) and not isinstance(args[1], bool):
        return ("neq", id(args[0]), float(args[1]))
    if name == "Any" and len(args) == 1 and isinstance(args[0], KerasTensor) and \
            layer.params.get("axis") == -1 and not layer.params.get("keepdims", False):
        inner = _op_mask(args[0])
        if inner is not None and inner[0] == "neq":
            return ("masking", inner[1], inner[2])
    return None


def _implicit_mask_ops(model: Any) -> List[str]:
    """Names of the Keras 3 op nodes (in ``model`` and nested functional models) that only
    compute the masks tf_keras derives implicitly from Embedding(mask_zero)/Masking: each use
    is a consumer's ``mask=`` equal to the mask its input carries in tf_keras, or feeds another
    such op. Other op nodes stay, and the Keras 2 conversion refuses them."""
    from kerasave.layers.base import KerasTensor, flatten
    from kerasave.models.model import Functional

    if not isinstance(model, Functional):
        return []
    own = {id(n) for n in model._nodes}
    ops = {layer.name: layer for layer in model._operations
           if getattr(layer, "_IS_OPERATION", False)}
    uses: Dict[str, List[Tuple[Any, str, Any]]] = {name: [] for name in ops}
    for layer in model._operations:
        for node in layer._inbound_nodes:
            if id(node) not in own:
                continue
            for t in flatten(list(node.call_args)):
                if isinstance(t, KerasTensor) and t._keras_history[0].name in ops:
                    uses[t._keras_history[0].name].append((layer, "arg", node))
            for key, value in node.call_kwargs.items():
                for t in flatten(value):
                    if isinstance(t, KerasTensor) and t._keras_history[0].name in ops:
                        uses[t._keras_history[0].name].append((layer, key, (node, t)))
    outputs = {t._keras_history[0].name for t in flatten(model._outputs_struct)}
    memo: Dict[int, Any] = {}
    drop = {name for name in ops if name not in outputs}
    changed = True
    while changed:
        changed = False
        for name in sorted(drop):
            ok = True
            for consumer, role, info in uses[name]:
                if getattr(consumer, "_IS_OPERATION", False):
                    ok = consumer.name in drop
                elif role == "mask":
                    node, t = info
                    firsts = _first_inputs(node)
                    want = _op_mask(t)
                    ok = want is not None and len(firsts) == 1 and \
                        _implicit_mask(firsts[0], memo) == want
                else:
                    ok = False
                if not ok:
                    break
            if not ok:
                drop.discard(name)
                changed = True
    out = sorted(drop)
    for layer in model.layers:
        out.extend(_implicit_mask_ops(layer))
    return out


def _fix_inbound(model: Any, record2: Dict[str, Any], drop: frozenset = frozenset()) -> None:
    """Replaces the converted ``inbound_nodes`` of ``record2`` (and of nested functional
    models) by those read from the model's graph."""
    from kerasave.models.model import Functional

    config = record2.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        return
    graph = _graph_inbound(model, drop) if isinstance(model, Functional) else {}
    by_name = {getattr(lay, "name", None): lay for lay in getattr(model, "layers", [])}
    for rec in config["layers"]:
        name = rec.get("name") or (rec.get("config") or {}).get("name")
        if name in graph and "inbound_nodes" in rec:
            rec["inbound_nodes"] = graph[name]
        if name in by_name:
            _fix_inbound(by_name[name], rec, drop)
    if _MODEL_IO in graph:
        for key, triples in graph[_MODEL_IO].items():
            if key in config:
                config[key] = _renumbered(config[key], iter(triples))


def _renumbered(value: Any, triples: Any) -> Any:
    """``value`` (a Keras 2 ``input_layers``/``output_layers`` structure: one triple, or lists
    or dicts of them) with each triple's node index taken, in flat order, from ``triples``."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        name, node_index, _ = next(triples)
        return [value[0], node_index, value[2]] if name == value[0] else value
    if isinstance(value, dict):
        return {k: _renumbered(v, triples) for k, v in value.items()}
    if isinstance(value, list):
        return [_renumbered(v, triples) for v in value]
    return value


def keras2_config(record: Dict[str, Any], model: Any = None) -> Dict[str, Any]:
    """A Keras 3 model record (``serialize_keras_object(model)``) as tf_keras writes it in
    ``model_config``: ``{"class_name", "config"}`` with Keras 2 layer records (no ``module``,
    dtype names, ``batch_input_shape``, list-format ``inbound_nodes``).

    Args:
        record: The Keras 3 record.
        model: The model the record describes; when given, functional ``inbound_nodes`` are
            read from its graph (exact Keras 2 node numbering for shared and nested models)
            instead of converted from the record.

    Returns:
        The tf_keras record.
    """
    drop = frozenset(_implicit_mask_ops(model)) if model is not None else frozenset()
    out = _layer2(record, drop)
    if model is not None:
        _fix_inbound(model, out, drop)
    return out


# -- metadata -------------------------------------------------------------------------------

def _tensor_shape(shape: Any) -> Any:
    if shape is None:
        return None
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [_tensor_shape(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _tensor_shape(v) for k, v in shape.items()}
    return {"class_name": "TensorShape", "items": list(shape)}


def _identifier(obj: Any) -> str:
    from kerasave.layers.base import InputLayer
    from kerasave.models.model import Model, Sequential

    if isinstance(obj, Sequential):
        return "_tf_keras_sequential"
    if isinstance(obj, Model):
        return "_tf_keras_network" if _graph_layers(obj) is not None else "_tf_keras_model"
    if isinstance(obj, InputLayer):
        return "_tf_keras_input_layer"
    if type(obj).__name__ in ("LSTM", "GRU", "SimpleRNN", "RNN"):
        return "_tf_keras_rnn_layer"
    return "_tf_keras_layer"


def _sublayer_build_shapes(layer: Any) -> Dict[int, Any]:
    """Build shapes of sublayers a layer builds itself without recording them (tf_keras builds
    a sublayer revived from config only from its ``build_input_shape``)."""
    if type(layer).__name__ != "MultiHeadAttention" or not layer.get_build_config():
        return {}
    shapes = layer.get_build_config().get("shapes_dict", {})
    q = shapes.get("query_shape")
    if q is None:
        return {}
    v = shapes.get("value_shape") or q
    k = shapes.get("key_shape") or v
    value_dim = getattr(layer, "value_dim", None) or layer.key_dim
    return {id(layer.query_dense): q, id(layer.key_dense): k, id(layer.value_dense): v,
            id(layer.output_dense): list(q[:-1]) + [layer.num_heads, value_dim]}


def _layer_metadata(layer: Any, record2: Dict[str, Any],
                    inbound: Optional[Any], build_shape: Any = None) -> Dict[str, Any]:
    from kerasave.layers.base import InputLayer

    config = record2["config"]
    dtype = config.get("dtype", "float32") if isinstance(config, dict) else "float32"
    if isinstance(layer, InputLayer):
        return {"class_name": "InputLayer", "name": layer.name, "dtype": dtype,
                "sparse": config.get("sparse", False), "ragged": config.get("ragged", False),
                "batch_input_shape": config.get("batch_input_shape"), "config": config}
    meta: Dict[str, Any] = {
        "name": layer.name, "trainable": bool(layer.trainable), "expects_training_arg": True,
        "dtype": dtype,
        "batch_input_shape": config.get("batch_input_shape") if isinstance(config, dict)
        else None,
        "stateful": bool(getattr(layer, "stateful", False)),
        # No traced functions are saved: a layer that cannot be rebuilt from its config
        # cannot be revived, so let tf_keras raise the config error instead of looking for
        # functions that are not there.
        "must_restore_from_config": True,
        "preserve_input_structure_in_config": False, "autocast": True,
        "class_name": record2["class_name"], "config": config,
    }
    if inbound is not None:
        meta["inbound_nodes"] = inbound
    build = layer.get_build_config() if hasattr(layer, "get_build_config") else None
    shape = (build or {}).get("input_shape")
    if shape is None:
        shape = build_shape if build_shape is not None else _called_shape(layer)
    if shape is not None:
        meta["build_input_shape"] = _tensor_shape(shape)
    return meta


def _called_shape(layer: Any) -> Any:
    """The input shape of the layer's first call (tf_keras records ``build_input_shape`` even
    for layers without weights, and cannot build them from the metadata otherwise)."""
    from kerasave.layers.base import KerasTensor, map_structure

    for node in getattr(layer, "_inbound_nodes", []):
        if node.call_args:
            first = node.call_args[0]
            try:
                return map_structure(lambda t: list(t.shape) if isinstance(t, KerasTensor)
                                     else None, first)
            except Exception:  # noqa: BLE001 - best effort; tf_keras infers it otherwise
                return None
    return None


def _root_metadata(model: Any, record2: Dict[str, Any]) -> Dict[str, Any]:
    meta = _layer_metadata(model, record2, None)
    meta["autocast"] = False
    meta["is_graph_network"] = _graph_layers(model) is not None
    meta["keras_version"] = TF_KERAS_LAYOUT_VERSION
    meta["backend"] = "tensorflow"
    meta["model_config"] = record2
    training = _training_config2(model)
    if training is not None:
        meta["training_config"] = training
    return meta


def _training_config2(model: Any) -> Optional[Dict[str, Any]]:
    """The compile config as tf_keras's ``training_config`` (optimizer as
    ``optimizer_config``), or None when the model was never compiled."""
    compile_config = model.get_compile_config() if hasattr(model, "get_compile_config") \
        else None
    if not compile_config:
        return None
    out = {k: _object2(compile_config.get(k)) for k in
           ("loss", "metrics", "weighted_metrics", "loss_weights")}
    optimizer = compile_config.get("optimizer")
    if isinstance(optimizer, str):
        optimizer = {"class_name": optimizer, "config": {}}
    if _is_record(optimizer):
        opt = _object2(optimizer)
        config = {k: v for k, v in (opt.get("config") or {}).items()
                  if not (k in _OPTIMIZER_K3_ONLY and v is None)}
        config.setdefault("is_legacy_optimizer", False)
        out["optimizer_config"] = {"class_name": opt["class_name"], "config": config}
    return out


# -- writing --------------------------------------------------------------------------------

def _dtype_name(var: Any) -> str:
    return str(np.dtype(var.dtype).name) if not isinstance(var.dtype, str) else var.dtype


def build_spec(model: Any) -> Tuple[Dict[str, Any], List[Tuple[int, str, str, str]],
                                    Dict[int, Any]]:
    """The object graph spec, the keras_metadata nodes and the variables by node id.

    Args:
        model: A kerasave model.

    Returns:
        ``(spec, metadata_nodes, variables)`` for :func:`kerasave._core.encode_saved_model`
        and :func:`kerasave._core.encode_keras_metadata`.
    """
    from kerasave.layers.base import Layer
    from kerasave.saving.serialization import ObjectSharingScope, serialize_keras_object

    with ObjectSharingScope():
        record = serialize_keras_object(model)
    root2 = keras2_config(record, model)
    # Keras 2 records of the model's own layers (graph networks) by layer identity.
    layer_records: Dict[int, Dict[str, Any]] = {}
    inbound: Dict[int, Any] = {}

    def index_records(m: Any, rec2: Dict[str, Any]) -> None:
        layers = _graph_layers(m)
        if layers is None or not isinstance(rec2.get("config"), dict):
            return
        by_name = {r["config"].get("name") if isinstance(r.get("config"), dict) else None: r
                   for r in rec2["config"].get("layers", [])}
        by_name.update({r.get("name"): r for r in rec2["config"].get("layers", [])
                        if r.get("name")})
        for layer in layers:
            r = by_name.get(layer.name)
            if r is None:
                continue
            layer_records[id(layer)] = {"class_name": r["class_name"], "config": r["config"]}
            if "inbound_nodes" in r:
                inbound[id(layer)] = r["inbound_nodes"]
            index_records(layer, r)

    index_records(model, root2)

    nodes: List[Dict[str, Any]] = []
    ids: Dict[int, int] = {}
    order: List[Tuple[Any, List[str]]] = []
    variables: Dict[int, Any] = {}
    cache: Dict[int, List[Tuple[str, Any]]] = {}
    for path, obj in walk_tree(model, cache):
        ids[id(obj)] = len(order)
        order.append((obj, path))
    optimizer = _optimizer_node(model)
    if optimizer is not None:
        extra = [(["optimizer"], optimizer)]
        for path, obj in walk_tree(optimizer, cache):
            if path and id(obj) not in ids:
                extra.append((["optimizer"] + path, obj))
        for path, obj in extra:
            if id(obj) not in ids:
                ids[id(obj)] = len(order)
                order.append((obj, path))
    metadata: List[Tuple[int, str, str, str]] = []
    sub_shapes: Dict[int, Any] = {}
    for obj, _ in order:
        if isinstance(obj, Layer):
            sub_shapes.update(_sublayer_build_shapes(obj))
    for node_id, (obj, path) in enumerate(order):
        if _is_variable(obj):
            variables[node_id] = obj
            nodes.append({"kind": "variable", "name": obj.path, "dtype": _dtype_name(obj),
                          "shape": [int(d) for d in obj.shape],
                          "trainable": bool(obj.trainable)})
            continue
        children = [(name, ids[id(child)]) for name, child in _children(obj, cache)]
        if node_id == 0 and optimizer is not None:
            children.append(("optimizer", ids[id(optimizer)]))
        if isinstance(obj, _Wrapper):
            nodes.append({"kind": "user_object", "identifier": obj.identifier,
                          "version": obj.version, "children": children})
            continue
        identifier = _identifier(obj)
        nodes.append({"kind": "user_object", "identifier": identifier, "children": children})
        if not isinstance(obj, Layer):
            continue
        if node_id == 0:
            meta = _root_metadata(obj, root2)
        else:
            rec2 = layer_records.get(id(obj))
            if rec2 is None:
                rec2 = keras2_config(serialize_keras_object(obj))
            meta = _layer_metadata(obj, rec2, inbound.get(id(obj)), sub_shapes.get(id(obj)))
            if _graph_layers(obj) is not None:
                meta["is_graph_network"] = True
        metadata.append((node_id, ".".join(["root"] + path), identifier,
                         json.dumps(meta, default=_json_default)))
    # The signature map tf_keras always writes (empty: no functions are saved).
    nodes[0]["children"].append(("signatures", len(nodes)))
    nodes.append({"kind": "user_object", "identifier": "signature_map", "children": []})
    spec = {"tags": ["serve"], "tensorflow_version": _TF_VERSION,
            "tensorflow_git_version": "", "nodes": nodes}
    return spec, metadata, variables


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, tuple):
        return list(x)
    raise TypeError(f"cannot encode {type(x).__name__} in keras_metadata")


def _write_file(path: str, data: bytes, fsync: bool) -> None:
    with open(path, "wb") as f:
        f.write(data)
        if fsync:
            f.flush()
            os.fsync(f.fileno())


def save_saved_model(model: Any, filepath: Any, overwrite: bool = True,
                     fsync: bool = True) -> str:
    """Writes a tf_keras SavedModel directory without traced functions.

    ``tf_keras.models.load_model(dir)`` rebuilds the model from ``keras_metadata.pb`` and
    ``tf.saved_model.load(dir)`` restores every variable (no signatures: kerasave has no
    TensorFlow graphs to trace). The directory is assembled beside the target and renamed
    into place; an existing target is replaced only once the new one is complete.

    Args:
        model: A kerasave model (Sequential, Functional or subclassed).
        filepath: The directory to write.
        overwrite: Replace an existing directory.
        fsync: Sync each file before it is renamed into place.

    Returns:
        The directory path.

    Raises:
        FileExistsError: The target exists and ``overwrite`` is False.
        UnsupportedFormatError: The model has vocabulary layers (assets).
        ValueError: The model is not built, or has variables that are not reachable through
            its layers.
    """
    from kerasave import _core
    from kerasave.checkpoint import save_checkpoint

    target = os.path.abspath(os.fspath(filepath))
    if os.path.lexists(target) and not overwrite:
        raise FileExistsError(target)
    if not getattr(model, "built", True):
        raise ValueError(f"{target}: the model is not built; call it on data or build() "
                         f"it before saving")
    from kerasave.errors import UnsupportedFormatError
    from kerasave.saving.keras_archive import gather_assets

    assets = gather_assets(model)
    if assets:
        raise UnsupportedFormatError(
            f"{target}: the model has layers with vocabularies ({', '.join(sorted(assets))}); "
            f"kerasave's SavedModel writer has no lookup-table resources or assets and would "
            f"lose them. Save it as .keras instead")
    spec, metadata, variables = build_spec(model)
    saved_model_pb, graph, keys = _core.encode_saved_model(spec)
    metadata_pb = _core.encode_keras_metadata(metadata)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=parent)
    try:
        _write_file(os.path.join(tmp, "saved_model.pb"), saved_model_pb, fsync)
        _write_file(os.path.join(tmp, "keras_metadata.pb"), metadata_pb, fsync)
        os.makedirs(os.path.join(tmp, "variables"))
        tensors = {keys[node]: var.numpy() for node, var in variables.items()}
        save_checkpoint(os.path.join(tmp, "variables", "variables"), tensors,
                        object_graph=graph, fsync=fsync)
        with open(os.path.join(tmp, "variables", "variables.index"), "rb") as f:
            index = f.read()
        _write_file(os.path.join(tmp, "fingerprint.pb"),
                    _core.encode_fingerprint(index, str(uuid.uuid4().int)), fsync)
        _replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return os.fspath(filepath)


def _replace(tmp: str, target: str) -> None:
    """Renames the finished directory ``tmp`` to ``target``; an existing target is moved
    aside first and deleted only after the rename succeeded."""
    if not os.path.lexists(target):
        os.rename(tmp, target)
        return
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", suffix=".old",
                           dir=os.path.dirname(target))
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    if os.path.isdir(old) and not os.path.islink(old):
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.remove(old)


# -- loading --------------------------------------------------------------------------------

def decode_json_utils(x: Any) -> Any:
    """Undoes tf_keras ``json_utils.Encoder``: ``__tuple__`` -> tuple, ``TensorShape`` -> a
    list of dims. TypeSpecs are kept as their records (nothing kerasave builds needs them).

    Args:
        x: Parsed JSON.

    Returns:
        The decoded value.
    """
    if isinstance(x, list):
        return [decode_json_utils(v) for v in x]
    if isinstance(x, dict):
        name = x.get("class_name")
        if name == "__tuple__" and "items" in x:
            return tuple(decode_json_utils(v) for v in x["items"])
        if name == "TensorShape" and "items" in x:
            items = x["items"]
            return None if items is None else [decode_json_utils(v) for v in items]
        return {k: decode_json_utils(v) for k, v in x.items()}
    return x


def _untuple(x: Any) -> Any:
    """Tuples -> lists, as Keras configs read from JSON have them."""
    if isinstance(x, (list, tuple)):
        return [_untuple(v) for v in x]
    if isinstance(x, dict):
        return {k: _untuple(v) for k, v in x.items()}
    return x


def _root_metadata_of(store: Any) -> Optional[Dict[str, Any]]:
    for node in store.keras_metadata or ():
        if node["node_id"] == 0:
            return node["metadata"]
    return None


def model_config_of(store: Any) -> Dict[str, Any]:
    """The tf_keras model record ``{"class_name", "config"}`` of a SavedModel store, decoded.

    Raises:
        UnsupportedFormatError: No ``keras_metadata.pb`` (Keras 3 ``export()``, a plain
            ``tf.Module``) or a root without a config (a subclassed model without
            ``get_config``, revivable only from traced functions).
    """
    from kerasave.errors import UnsupportedFormatError

    where = store.directory
    if store.keras_metadata is None:
        raise UnsupportedFormatError(
            f"{where}: this SavedModel has no keras_metadata.pb (a Keras 3 export(), "
            f"tf.saved_model.save of a tf.Module, or a pre-TF-2.5 save), so it holds no Keras "
            f"model config to rebuild from; open it with kerasave.open() for its variables "
            f"and signatures")
    root = _root_metadata_of(store)
    if root is None:
        raise UnsupportedFormatError(f"{where}: keras_metadata.pb has no root node (node 0)")
    config = root.get("config")
    if not isinstance(config, dict) or not config or "class_name" not in root:
        raise UnsupportedFormatError(
            f"{where}: the root model ({root.get('class_name')!r}) has no config in "
            f"keras_metadata.pb (a subclassed model without get_config, which tf_keras can "
            f"only revive from its traced TensorFlow functions); kerasave cannot rebuild it. "
            f"Its variables are readable with kerasave.open()")
    return {"class_name": root["class_name"],
            "config": _untuple(decode_json_utils(config))}


def assign_from_object_graph(model: Any, store: Any) -> Dict[int, str]:
    """Assigns every variable of ``model`` from the SavedModel's bundle by walking the stored
    object graph from the root in step with the model's tf_keras tree (matching children by
    local name) and reading each variable node's ``checkpoint_key``.

    Args:
        model: The rebuilt model.
        store: A :class:`kerasave._saved_model.SavedModelStore`.

    Returns:
        ``{id(variable): checkpoint key}`` for every variable assigned.

    Raises:
        CorruptFileError: A variable node without a bundle key, a shape or dtype mismatch,
            or model variables the object graph does not reach.
    """
    from kerasave.errors import CorruptFileError

    nodes = store.saved_model["nodes"]
    where = store.directory
    assigned: Dict[int, str] = {}
    used: set = set()
    visited: set = set()
    stack: List[Tuple[Any, int, List[str]]] = [(model, 0, [])]
    cache: Dict[int, List[Tuple[str, Any]]] = {}
    while stack:
        obj, node_id, path = stack.pop()
        if (id(obj), node_id) in visited:
            continue
        visited.add((id(obj), node_id))
        stored = dict(nodes[node_id]["children"])
        for name, child in _children(obj, cache):
            child_id = stored.get(name)
            if child_id is None:
                continue
            if not _is_variable(child):
                stack.append((child, child_id, path + [name]))
                continue
            if id(child) in assigned:
                continue
            node = nodes[child_id]
            key = node.get("checkpoint_key")
            where_var = f"{where}: variable {'/'.join(path + [name])!r} (node {child_id})"
            if node["kind"] != "variable" or key is None:
                raise CorruptFileError(f"{where_var}: the object graph node is a "
                                       f"{node['kind']} without a value in variables/")
            value = store[key]
            if tuple(np.shape(value)) != tuple(child.shape):
                raise CorruptFileError(
                    f"{where_var}: key {key!r} has shape {tuple(np.shape(value))}, the model "
                    f"variable {child.path} has {tuple(child.shape)}")
            child.assign(value)
            assigned[id(child)] = key
            used.add(child_id)
    missing = [v.path for v in model.weights if id(v) not in assigned]
    if missing:
        raise CorruptFileError(
            f"{where}: the SavedModel's object graph has no value for {len(missing)} model "
            f"variable(s): {', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}")
    unused = _unused_layer_variables(nodes, used)
    if unused:
        import warnings

        warnings.warn(f"{where}: {len(unused)} stored layer variable(s) have no counterpart "
                      f"in the rebuilt model and were not loaded: {', '.join(unused[:5])}"
                      f"{', ...' if len(unused) > 5 else ''}", stacklevel=3)
    return assigned


#: Root children that hold no layer variables of their own (optimizer state, tf_keras's
#: metrics and aliases, signatures).
_NOT_LAYER_STATE = {"optimizer", "keras_api", "signatures"}


def _unused_layer_variables(nodes: List[Dict[str, Any]], used: set) -> List[str]:
    """Keys of variable nodes reachable from the root (outside optimizer/metrics) that the
    walk did not assign."""
    out = []
    seen = {0}
    queue = [0]
    while queue:
        node = nodes[queue.pop(0)]
        for name, child in node["children"]:
            if child in seen or (node["id"] == 0 and name in _NOT_LAYER_STATE) or \
                    name == "keras_api":
                continue
            seen.add(child)
            queue.append(child)
            if nodes[child]["kind"] == "variable" and child not in used and \
                    nodes[child].get("checkpoint_key"):
                out.append(nodes[child]["checkpoint_key"])
    return out


def _build_from_metadata(model: Any, store: Any) -> None:
    """Builds the unbuilt layers of ``model`` from their nodes' ``build_input_shape`` (parents
    first), walking the stored object graph in step with the model as tf_keras's loader does
    for layers revived from config."""
    from kerasave.layers.base import Layer

    shapes = {node["node_id"]: node["metadata"].get("build_input_shape")
              for node in store.keras_metadata or ()}
    nodes = store.saved_model["nodes"]
    queue: List[Tuple[Any, int]] = [(model, 0)]
    seen: set = set()
    while queue:
        obj, node_id = queue.pop(0)
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Layer) and not obj.built:
            shape = _untuple(decode_json_utils(shapes.get(node_id)))
            if shape is not None:
                obj.build(shape)
        stored = dict(nodes[node_id]["children"])
        for name, child in tf_keras_children(obj):
            if not _is_variable(child) and name in stored:
                queue.append((child, stored[name]))
    model.built = True


def load_saved_model(store: Any, custom_objects: Any = None, compile: bool = True,
                     safe_mode: bool = True) -> Any:
    """Rebuilds a tf_keras SavedModel (written by tf_keras, with or without traces, or by
    kerasave) from its ``keras_metadata.pb`` config and restores its variables through the
    object graph.

    Args:
        store: The opened SavedModel (``kerasave.open(dir)``).
        custom_objects: ``{name: class}`` for registered custom layers (``"Pkg>Name"``).
        compile: Keep the recorded ``training_config`` as the compile config.
        safe_mode: Refuse code-carrying configs (Lambda bytecode).

    Returns:
        The model.

    Raises:
        UnsupportedFormatError: No Keras metadata or no root config (see
            :func:`model_config_of`).
        UnknownObjectError: A class the config names is not registered.
        CorruptFileError: Variables missing or mismatched (see
            :func:`assign_from_object_graph`).
    """
    from kerasave.layers.base import skip_weight_init
    from kerasave.saving.serialization import deserialize_keras_object

    config = model_config_of(store)
    root = _root_metadata_of(store) or {}
    with skip_weight_init():
        model = deserialize_keras_object(config, custom_objects=dict(custom_objects or {}),
                                         safe_mode=safe_mode)
        if not getattr(model, "built", True):
            # A subclassed model: build it for the recorded input shape, as tf_keras does,
            # so it has the variables the bundle holds.
            shape = _untuple(decode_json_utils(root.get("build_input_shape")))
            if shape is not None:
                model.build(shape)
            else:
                _build_from_metadata(model, store)
    var_keys = assign_from_object_graph(model, store)
    training = root.get("training_config")
    if compile and isinstance(training, dict) and hasattr(model, "compile_from_config"):
        model.compile_from_config(_untuple(decode_json_utils(training)))
        _restore_optimizer(model, store, var_keys)
    return model


def _restore_optimizer(model: Any, store: Any, var_keys: Dict[int, str]) -> None:
    """Optimizer state from the root's ``optimizer`` object (tf_keras new-optimizer layout or
    legacy ``.OPTIMIZER_SLOT`` slots); tf_keras itself leaves it fresh (keras_formats.md §4.4),
    kerasave restores what matches and warns otherwise."""
    optimizer = getattr(model, "optimizer", None)
    root_children = dict(store.saved_model["nodes"][0]["children"])
    if optimizer is None or "optimizer" not in root_children:
        return
    from kerasave.optimizers._compat import assign_from_checkpoint

    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    assign_from_checkpoint(optimizer, store, var_keys, store.directory)
