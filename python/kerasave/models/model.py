"""``Model`` (subclassed and functional), ``Functional`` and ``Sequential`` for numpy inference."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from kerasave.layers.base import (
    InputLayer,
    KerasTensor,
    Layer,
    Node,
    _np_dtype,
    flatten,
    map_structure,
    serialize_keras_object,
)
from kerasave.saving import registry as _registry
from kerasave.saving.serialization import deserialize_keras_object

__all__ = ["Functional", "Model", "Sequential", "clone_model", "model_from_json"]


class Model(Layer):
    """A model: a layer with ``predict``, ``summary``, saving and a list of layers.

    ``Model(inputs, outputs)`` builds a :class:`Functional` model; subclass ``Model`` and
    implement ``call`` for a subclassed model.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> "Model":
        if cls is Model and (args or "inputs" in kwargs):
            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        inputs = kwargs.pop("inputs", args[0] if args else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        super().__init__(**kwargs)
        object.__setattr__(self, "compiled", False)
        object.__setattr__(self, "_compile_config", None)
        object.__setattr__(self, "optimizer", None)
        object.__setattr__(self, "loss", None)
        object.__setattr__(self, "_functional", None)
        if inputs is not None and outputs is not None and not isinstance(self, Functional):
            # A subclass calling ``super().__init__(inputs, outputs)``: run the graph through
            # an inner Functional whose layers become this model's layers.
            inner = Functional(inputs, outputs, name=self.name)
            object.__setattr__(self, "_functional", inner)
            self._layers = list(inner.layers)
            self.built = True

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Functional-API subclasses run their graph; other subclasses override ``call``."""
        if self._functional is not None:
            return self._functional.call(inputs)
        raise NotImplementedError(f"Model {type(self).__name__} does not implement call()")

    def _cast_input(self, x: Any) -> Any:
        return np.asarray(x) if not isinstance(x, (list, tuple, dict)) else x

    def build(self, input_shape: Any = None) -> None:
        """Subclassed models: creates the sublayers' weights by calling the model on zeros of
        ``input_shape`` (None dimensions become 1), as Keras's symbolic build does.

        Args:
            input_shape: The batch input shape (a tuple, or a list/dict of tuples).
        """
        self.built = True
        if input_shape is None:
            return

        def zeros(shape: Any) -> Any:
            if isinstance(shape, dict):
                return {k: zeros(v) for k, v in shape.items()}
            if isinstance(shape, (list, tuple)) and shape and \
                    not all(d is None or isinstance(d, int) for d in shape):
                return [zeros(v) for v in shape]
            return np.zeros(tuple(1 if d is None else int(d) for d in shape), np.float32)

        self(zeros(input_shape))

    @property
    def layers(self) -> List[Layer]:
        """The model's direct sublayers."""
        return list(self._layers)

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Layer:
        """Returns a layer by name or index.

        Args:
            name: Layer name.
            index: Position in :attr:`layers`.

        Returns:
            The layer.

        Raises:
            ValueError: No such layer, or neither or both arguments given.
        """
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index.")
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[layer.name for layer in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    # -- compile (optimizer, loss and metric objects; no training) ------------------------

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: Any = "auto",
                auto_scale_loss: bool = True, **kwargs: Any) -> None:
        """Sets up the optimizer, loss and metrics as Keras 3's ``compile`` does (no training).

        ``model.optimizer`` becomes an optimizer object (``ks.optimizers.get``, unbuilt: call
        ``model.optimizer.build(model.trainable_variables)`` or load a file to get its state),
        ``model.loss`` is the ``loss`` argument as given (as in Keras), and
        :meth:`get_compile_config` serializes the arguments as Keras 3 does.

        Args:
            optimizer: Optimizer name, record or object.
            loss: Loss(es): names, functions, objects, or lists/dicts of them.
            loss_weights: Loss weights.
            metrics: Metrics.
            weighted_metrics: Weighted metrics.
            run_eagerly: Recorded.
            steps_per_execution: Recorded.
            jit_compile: Recorded; ``"auto"`` is written as False (what Keras 3 on TensorFlow
                resolves it to for these models).
            auto_scale_loss: Wrap the optimizer in a ``LossScaleOptimizer`` when the model's
                dtype policy is ``mixed_float16`` (Keras 3).
            **kwargs: Ignored (Keras 2 arguments such as ``sample_weight_mode``).
        """
        from kerasave import optimizers

        opt = optimizers.get(optimizer)
        model_opt = opt
        if auto_scale_loss and opt is not None and self.dtype_policy.name == "mixed_float16" \
                and not isinstance(opt, optimizers.LossScaleOptimizer):
            # Keras 3 wraps the optimizer for mixed_float16 models; the compile config keeps
            # the inner one.
            model_opt = optimizers.LossScaleOptimizer(opt, name="loss_scale_optimizer")
        object.__setattr__(self, "optimizer", model_opt)
        if loss is not None:
            object.__setattr__(self, "loss", loss)
        if jit_compile == "auto":
            jit_compile = False
        if jit_compile and run_eagerly:
            jit_compile = False
        object.__setattr__(self, "jit_compile", jit_compile)
        object.__setattr__(self, "run_eagerly", run_eagerly)
        object.__setattr__(self, "steps_per_execution", steps_per_execution)
        object.__setattr__(self, "_compile_config", {
            "optimizer": opt, "loss": loss, "loss_weights": loss_weights, "metrics": metrics,
            "weighted_metrics": weighted_metrics, "run_eagerly": run_eagerly,
            "steps_per_execution": steps_per_execution, "jit_compile": jit_compile})
        object.__setattr__(self, "compiled", True)

    def get_compile_config(self) -> Optional[Dict[str, Any]]:
        """The compile arguments serialized now, as Keras 3 does (so the optimizer's config
        has its current learning rate); ``{}`` when never compiled."""
        if not self.compiled or self._compile_config is None:
            return {}
        return {key: serialize_keras_object(value)
                for key, value in self._compile_config.items()}

    def compile_from_config(self, config: Dict[str, Any]) -> None:
        """Compiles from a compile config (``.keras``) or a tf_keras / legacy ``.h5``
        ``training_config`` (``optimizer_config`` key), then builds the optimizer when the
        model is built, as Keras 3 does, so a file's optimizer state can be loaded into it.

        Losses and metrics kerasave cannot resolve (an unregistered custom function) are kept
        as their serialized configs with a warning, so the config survives a round trip.

        Args:
            config: The dict.
        """
        import warnings

        if type(self).compile is not Model.compile:
            warnings.warn(
                "`compile()` was not called as part of model loading because the model's "
                "`compile()` method is custom. All subclassed Models that have `compile()` "
                "overridden should also override `get_compile_config()` and "
                "`compile_from_config(config)`. Alternatively, you can call `compile()` "
                "manually after loading.", stacklevel=2)
            return
        from kerasave.optimizers._compat import compile_args_from_config

        args = compile_args_from_config(dict(config))
        self.compile(**args)
        if self.built and self.optimizer is not None:
            self.optimizer.build(self.trainable_variables)

    # -- inference -------------------------------------------------------------------------

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: Any = "auto",
                steps: Optional[int] = None, callbacks: Any = None) -> Any:
        """Runs the model on numpy inputs in batches and concatenates the outputs.

        Args:
            x: An array, a list of arrays (one per input) or a dict by input name.
            batch_size: Samples per batch (default 32).
            verbose: Ignored.
            steps: Ignored.
            callbacks: Ignored.

        Returns:
            The outputs, structured as the model's outputs.
        """
        x = map_structure(np.asarray, x)
        leaves = flatten(x)
        n = leaves[0].shape[0] if leaves and leaves[0].ndim else 1
        bs = batch_size or 32
        if n <= bs:
            return self(x)
        parts = []
        for start in range(0, n, bs):
            parts.append(self(map_structure(lambda a: a[start:start + bs], x)))
        first = parts[0]
        flat_parts = [flatten(p) for p in parts]
        joined = [np.concatenate([fp[i] for fp in flat_parts], axis=0)
                  for i in range(len(flat_parts[0]))]
        it = iter(joined)
        return map_structure(lambda _: next(it), first)

    def predict_on_batch(self, x: Any) -> Any:
        """``predict`` on one batch."""
        return self(map_structure(np.asarray, x))

    def summary(self, line_length: int = 80, print_fn: Any = None, **kwargs: Any) -> None:
        """Prints a table of layers, output shapes and parameter counts.

        Args:
            line_length: Total width.
            print_fn: Print function (default ``print``).
            **kwargs: Ignored.
        """
        print_fn = print_fn or print
        rows = []
        for layer in self.layers:
            shape: Any = "?"
            if layer._inbound_nodes:
                outs = layer._inbound_nodes[-1].output_tensors
                shape = outs[0].shape if len(outs) == 1 else [t.shape for t in outs]
            rows.append((f"{layer.name} ({type(layer).__name__})", str(shape),
                         str(layer.count_params())))
        w0 = max([len("Layer (type)")] + [len(r[0]) for r in rows]) + 2
        w1 = max([len("Output Shape")] + [len(r[1]) for r in rows]) + 2
        print_fn(f'Model: "{self.name}"')
        print_fn("=" * max(line_length, w0 + w1 + 10))
        print_fn(f"{'Layer (type)':<{w0}}{'Output Shape':<{w1}}Param #")
        print_fn("-" * max(line_length, w0 + w1 + 10))
        for r in rows:
            print_fn(f"{r[0]:<{w0}}{r[1]:<{w1}}{r[2]}")
        print_fn("=" * max(line_length, w0 + w1 + 10))
        trainable = sum(int(np.prod(w.shape)) for w in self.trainable_weights)
        total = self.count_params()
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")

    # -- config / saving -------------------------------------------------------------------

    def to_json(self, **kwargs: Any) -> str:
        """``json.dumps(serialize_keras_object(self))``.

        Args:
            **kwargs: Passed to ``json.dumps``.
        """
        return json.dumps(serialize_keras_object(self), **kwargs)

    def save(self, filepath: Any, overwrite: bool = True, **kwargs: Any) -> None:
        """Saves the model (``.keras``, legacy ``.h5`` or a SavedModel directory with
        ``save_format="tf"`` or no suffix); see ``kerasave.saving.save_model``."""
        from kerasave.saving.api import save_model

        save_model(self, filepath, overwrite=overwrite, **kwargs)

    def load_weights(self, filepath: Any, skip_mismatch: bool = False, by_name: bool = False,
                     **kwargs: Any) -> None:
        """Loads weights from ``.weights.h5``, ``.keras``, sharded ``.weights.json`` or legacy
        ``.h5`` files."""
        from kerasave.saving.api import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch, by_name=by_name)

    def save_weights(self, filepath: Any, overwrite: bool = True, **kwargs: Any) -> None:
        """Writes ``.weights.h5`` (Keras 3 layout)."""
        from kerasave.saving.api import save_weights

        save_weights(self, filepath, **kwargs)

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Model":
        """Functional configs rebuild a graph; others call ``cls(**config)``."""
        if "layers" in config and "output_layers" in config:
            return functional_from_config(Functional if cls is Model else cls, config)
        return cls(**config)


class Functional(Model):
    """A model defined by a graph of layer calls from ``inputs`` to ``outputs``.

    Args:
        inputs: KerasTensor(s) from ``Input`` (a tensor, list or dict).
        outputs: KerasTensor(s) (a tensor, list or dict).
        name: Model name.
        trainable: Whether the weights are trainable.
    """

    def __init__(self, inputs: Any, outputs: Any, name: Optional[str] = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        layer_order = kwargs.pop("_layer_order", None)
        super().__init__(name=name, trainable=trainable, **kwargs)
        object.__setattr__(self, "_inputs_struct", inputs)
        object.__setattr__(self, "_outputs_struct", outputs)
        object.__setattr__(self, "_flat_inputs", flatten(inputs))
        object.__setattr__(self, "_flat_outputs", flatten(outputs))
        for t in self._flat_inputs + self._flat_outputs:
            if not isinstance(t, KerasTensor) or t._keras_history is None:
                raise ValueError(f"Functional inputs/outputs must be KerasTensors, got {t!r}")
        nodes, order = self._map_graph()
        object.__setattr__(self, "_nodes", nodes)
        if layer_order is not None:
            order = layer_order
        # Keras graph operations (ops.* nodes) run in the graph but are not ``layers``.
        object.__setattr__(self, "_operations", list(order))
        self._layers = [op for op in order if not getattr(op, "_IS_OPERATION", False)]
        self.built = True
        object.__setattr__(self, "_input_layers",
                           [t._keras_history[0] for t in self._flat_inputs])

    def _map_graph(self) -> Tuple[List[Node], List[Layer]]:
        """Nodes in execution order and layers in Keras's depth-then-traversal order."""
        input_ids = {id(t) for t in self._flat_inputs}
        op_index: Dict[int, int] = {}
        ops: Dict[int, Layer] = {}
        post: List[Node] = []
        state: Dict[int, int] = {}  # 1 = in progress, 2 = done
        for out in self._flat_outputs:
            layer, ni, _ = out._keras_history
            stack: List[Tuple[Node, bool]] = [(layer._inbound_nodes[ni], False)]
            while stack:
                node, expanded = stack.pop()
                if expanded:
                    state[id(node)] = 2
                    post.append(node)
                    continue
                if state.get(id(node)) == 2:
                    continue
                if state.get(id(node)) == 1:
                    raise ValueError("The functional graph has a cycle.")
                op = node.operation
                if id(op) not in op_index:
                    op_index[id(op)] = len(op_index)
                    ops[id(op)] = op
                state[id(node)] = 1
                stack.append((node, True))
                if node.is_input:
                    continue
                parents = []
                for t in node.input_tensors:
                    if id(t) in input_ids:
                        player, pni, _ = t._keras_history
                        pn = player._inbound_nodes[pni]
                    else:
                        player, pni, _ = t._keras_history
                        pn = player._inbound_nodes[pni]
                    parents.append(pn)
                for pn in reversed(parents):
                    if state.get(id(pn)) != 2:
                        stack.append((pn, False))
        # Depths: a node's depth is 1 + the max depth of the nodes consuming it.
        depth: Dict[int, int] = {}
        for node in reversed(post):
            d = depth.setdefault(id(node), 0)
            for pn in node.parent_nodes:
                depth[id(pn)] = max(depth.get(id(pn), 0), d + 1)
        layer_depth: Dict[int, int] = {}
        for node in post:
            op = node.operation
            layer_depth[id(op)] = max(layer_depth.get(id(op), 0), depth[id(node)])
        order = sorted(ops.values(), key=lambda op: (-layer_depth[id(op)], op_index[id(op)]))
        return post, order

    @property
    def inputs(self) -> List[KerasTensor]:
        """The flat list of input tensors."""
        return list(self._flat_inputs)

    @property
    def outputs(self) -> List[KerasTensor]:
        """The flat list of output tensors."""
        return list(self._flat_outputs)

    @property
    def input_shape(self) -> Any:
        """Shape of the input (a list of shapes for several inputs), as Keras 3."""
        shapes = [tuple(t.shape) for t in self._flat_inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> Any:
        """Shape of the output (a list of shapes for several outputs), as Keras 3."""
        shapes = [tuple(t.shape) for t in self._flat_outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self) -> List[str]:
        """Names of the input layers."""
        return [t._keras_history[0].name for t in self._flat_inputs]

    def _flatten_call_inputs(self, inputs: Any) -> List[Any]:
        if isinstance(inputs, dict):
            if isinstance(self._inputs_struct, dict):
                return [inputs[k] for k in self._inputs_struct]
            return [inputs[name] for name in self.input_names]
        flat = flatten(inputs)
        if len(flat) != len(self._flat_inputs):
            raise ValueError(f"Model {self.name} expects {len(self._flat_inputs)} input(s), "
                             f"got {len(flat)}.")
        return flat

    def call(self, inputs: Any, training: bool = False, mask: Any = None) -> Any:
        values: Dict[int, Any] = {}
        for t, v in zip(self._flat_inputs, self._flatten_call_inputs(inputs)):
            arr = np.asarray(v)
            want = _np_dtype(t.dtype)
            if arr.dtype != want and arr.dtype.kind in "fiub" and want.kind == "f":
                arr = arr.astype(want)
            values[id(t)] = arr
        input_ids = set(values)
        masks: Dict[int, Any] = {}
        for node in self._nodes:
            if node.is_input:
                continue
            if all(id(t) in input_ids for t in node.output_tensors):
                continue

            def fill(x: Any) -> Any:
                return values[id(x)] if isinstance(x, KerasTensor) else x

            args = map_structure(fill, node.call_args)
            kwargs = map_structure(fill, node.call_kwargs)
            first = node.call_args[0] if node.call_args else None
            if isinstance(first, KerasTensor):
                in_mask = masks.get(id(first))
            elif isinstance(first, (list, tuple)):
                in_mask = [masks.get(id(t)) if isinstance(t, KerasTensor) else None
                           for t in first]
                if all(m is None for m in in_mask):
                    in_mask = None
            else:
                in_mask = None
            if "mask" in kwargs:
                in_mask = None
            if hasattr(node.operation, "_arg_masks"):  # query_mask/value_mask... (layers/base.py)
                kwargs.update(node.operation._arg_masks(node.call_args, node.call_kwargs, masks))
            out, out_mask = node.operation._call_with_mask(tuple(args), kwargs, in_mask)
            for t, v in zip(node.output_tensors, flatten(out)):
                values[id(t)] = v
            if out_mask is not None and len(node.output_tensors) == 1:
                masks[id(node.output_tensors[0])] = out_mask
        return map_structure(lambda t: values[id(t)], self._outputs_struct)

    def get_config(self) -> Dict[str, Any]:
        """Keras 3 functional config: layers with ``name`` and ``inbound_nodes``,
        ``input_layers`` and ``output_layers``."""
        node_ids: Dict[int, int] = {}
        own = {id(n) for n in self._nodes}
        for layer in self._operations:
            k = 0
            for node in layer._inbound_nodes:
                if id(node) in own:
                    node_ids[id(node)] = k
                    k += 1

        def history(t: KerasTensor, io: bool = False) -> List[Any]:
            # Keras 3 (functional.py): a node reference counts the layer's nodes that belong
            # to this model, from 0; only input_layers/output_layers count a nested
            # Functional's nodes from 1 ("pre-existing node"), and from_config undoes that.
            layer, ni, ti = t._keras_history
            index = node_ids.get(id(layer._inbound_nodes[ni]), ni)
            if io and isinstance(layer, Functional):
                index += 1
            return [layer.name, index, ti]

        def ser_arg(x: Any) -> Any:
            if isinstance(x, KerasTensor):
                return {"class_name": "__keras_tensor__",
                        "config": {"shape": list(x.shape), "dtype": x.dtype,
                                   "keras_history": history(x)}}
            return serialize_keras_object(x)

        layers = []
        for layer in self._operations:
            record = serialize_keras_object(layer)
            record["name"] = layer.name
            record["inbound_nodes"] = [
                {"args": map_structure(ser_arg, list(node.call_args)),
                 "kwargs": map_structure(ser_arg, dict(node.call_kwargs))}
                for node in layer._inbound_nodes if id(node) in own and not node.is_input]
            layers.append(record)

        def struct(x: Any) -> Any:
            if isinstance(x, KerasTensor):
                return history(x, io=True)
            if isinstance(x, dict):
                return {k: struct(v) for k, v in x.items()}
            return [struct(v) for v in x]

        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": struct(self._inputs_struct),
                "output_layers": struct(self._outputs_struct)}

    def get_build_config(self) -> Optional[Dict[str, Any]]:
        """Keras writes ``{"input_shape": null}`` for functional models."""
        return {"input_shape": None}

    def build_from_config(self, config: Dict[str, Any]) -> None:
        """Functional models are built at construction."""
        self.built = True


class _NotYet(Exception):
    """A node's input tensor has not been created yet (from_config retries later)."""


def _is_leaf(x: Any) -> bool:
    return isinstance(x, list) and len(x) == 3 and isinstance(x[0], str)


def functional_from_config(cls: type, config: Dict[str, Any],
                           custom_objects: Optional[Dict[str, Any]] = None) -> Functional:
    """Rebuilds a functional model from its config (Keras 3 or Keras 2 node format).

    Args:
        cls: ``Functional`` or a subclass.
        config: The functional config.
        custom_objects: Extra objects for layer deserialization.

    Returns:
        The model.

    Raises:
        ValueError: The graph references unknown layers or cannot be completed.
    """
    created: Dict[str, Layer] = {}
    order: List[Layer] = []
    pending: Dict[str, List[Any]] = {}
    made: Dict[str, int] = {}
    for layer_data in config["layers"]:
        name = layer_data.get("name") or layer_data.get("config", {}).get("name")
        record = {k: v for k, v in layer_data.items() if k not in ("name", "inbound_nodes")}
        layer = deserialize_keras_object(record, custom_objects=custom_objects)
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer record {name!r} did not deserialize to a layer: {layer!r}")
        created[name] = layer
        order.append(layer)
        made[name] = 0
        nodes = list(layer_data.get("inbound_nodes") or [])
        if nodes:
            pending[name] = nodes

    def get_tensor(layer_name: str, node_index: int, tensor_index: int, legacy: bool,
                   io: bool = False) -> Any:
        if layer_name not in created:
            raise ValueError(f"Unknown layer {layer_name!r} referenced by the model config.")
        layer = created[layer_name]
        # Keras 2 counts a nested model's construction node everywhere; Keras 3 only in
        # input_layers/output_layers, and only for Functional (see get_config).
        if (legacy and isinstance(layer, Model)) or (io and isinstance(layer, Functional)):
            node_index -= 1
        if isinstance(layer, InputLayer):
            node_index = 0
        elif node_index < 0 or node_index >= made[layer_name]:
            raise _NotYet(node_index)
        node = layer._inbound_nodes[node_index] if isinstance(layer, InputLayer) \
            else layer._from_config_nodes[node_index]
        return node.output_tensors[tensor_index]

    def process_node(layer: Layer, name: str, node_data: Any) -> None:
        if isinstance(node_data, dict):
            args = deserialize_keras_object(node_data.get("args", []),
                                            custom_objects=custom_objects)
            kwargs = deserialize_keras_object(node_data.get("kwargs", {}),
                                              custom_objects=custom_objects)

            def resolve(x: Any) -> Any:
                hist = getattr(x, "_pre_serialization_keras_history", None)
                if hist is not None:
                    return get_tensor(hist[0], hist[1], hist[2], False)
                return x

            args = map_structure(resolve, args)
            kwargs = map_structure(resolve, kwargs)
        else:
            entries = node_data
            tensors = [get_tensor(e[0], e[1], e[2], True) for e in entries]
            kwargs = dict(entries[0][3]) if entries and len(entries[0]) > 3 and \
                isinstance(entries[0][3], dict) else {}
            # Keras 2 writes tensor keyword arguments (MultiHeadAttention's ``value``) as
            # [layer_name, node_index, tensor_index] triples.
            kwargs = {k: get_tensor(v[0], v[1], v[2], True)
                      if _is_leaf(v) and v[0] in created else v for k, v in kwargs.items()}
            args = [tensors[0]] if len(tensors) == 1 else [tensors]
        before = len(layer._inbound_nodes)
        layer(*args, **kwargs)
        node = layer._inbound_nodes[before]
        if not hasattr(layer, "_from_config_nodes"):
            object.__setattr__(layer, "_from_config_nodes", [])
        layer._from_config_nodes.append(node)
        made[name] += 1

    while pending:
        progress = False
        for layer in order:
            name = layer.name if layer.name in pending else None
            key = next((k for k, v in created.items() if v is layer), None)
            if key not in pending:
                continue
            nodes = pending[key]
            i = 0
            while i < len(nodes):
                try:
                    process_node(layer, key, nodes[i])
                except _NotYet:
                    break
                i += 1
                progress = True
            if i < len(nodes):
                pending[key] = nodes[i:]
            else:
                del pending[key]
        if not progress:
            raise ValueError(f"Could not rebuild the graph: unresolved inputs for layers "
                             f"{sorted(pending)}")

    def map_tensors(x: Any) -> Any:
        if _is_leaf(x):
            return get_tensor(x[0], x[1], x[2], False, io=True)
        if isinstance(x, dict):
            return {k: map_tensors(v) for k, v in x.items()}
        return [map_tensors(v) for v in x]

    inputs = map_tensors(config["input_layers"])
    outputs = map_tensors(config["output_layers"])
    if isinstance(inputs, list) and len(inputs) == 1 and not _is_leaf(config["input_layers"]):
        inputs = inputs[0]
    if isinstance(outputs, list) and len(outputs) == 1 and not _is_leaf(config["output_layers"]):
        outputs = outputs[0]
    for layer in order:
        if hasattr(layer, "_from_config_nodes"):
            object.__delattr__(layer, "_from_config_nodes")
    return cls(inputs=inputs, outputs=outputs, name=config.get("name"),
               trainable=config.get("trainable", True), _layer_order=order)


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: Layers to add (an ``InputLayer`` first fixes the input shape).
        trainable: Whether the weights are trainable.
        name: Model name.
    """

    def __init__(self, layers: Optional[Sequence[Layer]] = None, trainable: bool = True,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        object.__setattr__(self, "_input_layer", None)
        object.__setattr__(self, "_build_input_shape", None)
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self._input_layer is not None:
            self.build(self._input_layer.batch_shape)

    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Appends a layer (or an ``Input`` tensor, which sets the input shape).

        Args:
            layer: A layer, or a KerasTensor from ``Input``.
            rebuild: Rebuild shapes now when the input shape is known.
        """
        if isinstance(layer, KerasTensor):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise ValueError(f"Only instances of `keras.Layer` can be added to a Sequential "
                             f"model. Received: {layer!r}")
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._layers:
                raise ValueError("Sequential model: an InputLayer can only be the first layer.")
            object.__setattr__(self, "_input_layer", layer)
            return
        if not self._layers and self._input_layer is None and \
                layer._batch_input_shape is not None:
            object.__setattr__(self, "_input_layer",
                               InputLayer(batch_shape=layer._batch_input_shape,
                                          name=f"{layer.name}_input"))
        if any(layer.name == other.name for other in self._layers):
            raise ValueError(f"All layers added to a Sequential model should have unique "
                             f"names. Name '{layer.name}' is already the name of a layer in "
                             "this model.")
        self._layers.append(layer)
        if rebuild and self._input_layer is not None:
            self.build(self._input_layer.batch_shape)

    def pop(self) -> Layer:
        """Removes and returns the last layer."""
        layer = self._layers.pop()
        self.built = False
        return layer

    @property
    def input_shape(self) -> Any:
        """The batch input shape, once known."""
        return self._build_input_shape

    def build(self, input_shape: Any = None) -> None:
        """Builds every layer by a symbolic pass from ``input_shape``."""
        if input_shape is None:
            input_shape = self._build_input_shape
        if input_shape is None:
            return
        input_shape = tuple(input_shape)
        if self._input_layer is None:
            object.__setattr__(self, "_input_layer", InputLayer(batch_shape=input_shape))
        object.__setattr__(self, "_build_input_shape", input_shape)
        self._build_shapes = input_shape
        x = self._input_layer.output_tensor
        for layer in self._layers:
            x = layer(x)
        object.__setattr__(self, "_output_tensor", x)
        self.built = True

    def call(self, inputs: Any, training: bool = False, mask: Any = None) -> Any:
        x, m = inputs, mask
        for layer in self._layers:
            x, m = layer._call_with_mask((x,), {}, m)
        return x

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.built and args and not isinstance(args[0], (KerasTensor, list, dict)):
            self.build((None,) + tuple(np.shape(args[0]))[1:])
        return super().__call__(*args, **kwargs)

    @property
    def inputs(self) -> List[KerasTensor]:
        """The input tensor (list of one)."""
        return [self._input_layer.output_tensor] if self._input_layer is not None else []

    @property
    def outputs(self) -> List[KerasTensor]:
        """The output tensor (list of one), once built."""
        out = getattr(self, "_output_tensor", None)
        return [out] if out is not None else []

    @property
    def output_shape(self) -> Any:
        """The output shape, once built (Keras 3 raises AttributeError before)."""
        outputs = self.outputs
        if not outputs:
            raise AttributeError(f"Sequential model '{self.name}' has no defined output shape "
                                 "yet.")
        return tuple(outputs[0].shape)

    def get_config(self) -> Dict[str, Any]:
        """Keras 3 Sequential config (the InputLayer first in ``layers``)."""
        layers = []
        if self._input_layer is not None:
            layers.append(serialize_keras_object(self._input_layer))
        layers.extend(serialize_keras_object(layer) for layer in self._layers)
        config: Dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": serialize_keras_object(self.dtype_policy),
                                  "layers": layers}
        if self._build_input_shape is not None:
            config["build_input_shape"] = list(self._build_input_shape)
        return config

    def get_build_config(self) -> Optional[Dict[str, Any]]:
        """``{"input_shape": ...}`` once built."""
        if self._build_input_shape is not None:
            return {"input_shape": list(self._build_input_shape)}
        return None

    def build_from_config(self, config: Dict[str, Any]) -> None:
        """Builds from ``{"input_shape": ...}``."""
        shape = (config or {}).get("input_shape")
        if shape is not None and not self.built:
            self.build(tuple(shape))
        self.built = True

    @classmethod
    def from_config(cls, config: Any, custom_objects: Optional[Dict[str, Any]] = None
                    ) -> "Sequential":
        """Rebuilds a Sequential from a Keras 3 or Keras 2 config."""
        if isinstance(config, list):
            config = {"layers": config}
        layer_configs = config["layers"]
        kwargs: Dict[str, Any] = {}
        if config.get("name") is not None:
            kwargs["name"] = config["name"]
        if "dtype" in config and config["dtype"] is not None:
            kwargs["dtype"] = config["dtype"]
        model = cls(trainable=config.get("trainable", True), **kwargs)
        for layer_config in layer_configs:
            layer = deserialize_keras_object(layer_config, custom_objects=custom_objects)
            model.add(layer, rebuild=False)
        shape = config.get("build_input_shape")
        if model._input_layer is not None:
            model.build(model._input_layer.batch_shape)
        elif shape is not None:
            model.build(tuple(shape))
        return model


def clone_model(model: Model, input_tensors: Any = None, clone_function: Any = None,
                custom_objects: Optional[Dict[str, Any]] = None) -> Model:
    """A new model with the same architecture and freshly initialised weights.

    Args:
        model: A Sequential or functional model (subclassed models are rebuilt from their
            config).
        input_tensors: Unsupported (must be None).
        clone_function: Optional ``fn(layer) -> layer`` applied to every layer of a Sequential
            (default: rebuild from its config).
        custom_objects: Extra ``{name: object}`` for custom layers.

    Returns:
        The clone.

    Raises:
        ValueError: ``input_tensors`` was given.
    """
    if input_tensors is not None:
        raise ValueError("kerasave.clone_model does not support input_tensors")
    from kerasave.saving.registry import CustomObjectScope, _scope_dict

    # Add to an enclosing custom_object_scope (the saving guide clones inside one).
    with CustomObjectScope({**_scope_dict(), **(custom_objects or {})}):
        if isinstance(model, Sequential) and clone_function is not None:
            layers: List[Any] = []
            if model._input_layer is not None:
                layers.append(InputLayer(batch_shape=model._input_layer.batch_shape,
                                         dtype=model._input_layer.dtype))
            layers.extend(clone_function(layer) for layer in model.layers)
            return Sequential(layers, name=model.name, trainable=model.trainable)
        return deserialize_keras_object(serialize_keras_object(model),
                                        custom_objects=custom_objects)


def model_from_json(json_string: str, custom_objects: Optional[Dict[str, Any]] = None) -> Any:
    """Rebuilds a model from :meth:`Model.to_json` output.

    Args:
        json_string: The JSON text.
        custom_objects: Extra ``{name: class_or_function}``.

    Returns:
        The model (freshly initialised weights).
    """
    from kerasave.activations import keras_version_scope

    data = json.loads(json_string)
    # tf_keras's to_json records "keras_version": its "hard_sigmoid" is Keras 2's.
    version = data.get("keras_version") if isinstance(data, dict) else None
    with keras_version_scope(version):
        return deserialize_keras_object(data, custom_objects=custom_objects)


_registry.register_builtin("keras", "Model", Model, aliases=["keras.models.Model"])
_registry.register_builtin("keras", "Sequential", Sequential,
                           aliases=["keras.models.Sequential"])
_registry.register_builtin("keras.src.models.functional", "Functional", Functional)
