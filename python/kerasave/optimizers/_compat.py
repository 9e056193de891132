"""Compile configs and optimizer state across layouts: Keras 3 (``optimizer.variables``
positional), tf_keras new optimizers (``iteration`` then slots, no learning rate) and tf_keras
legacy ``OptimizerV2`` (``iter`` plus slots grouped by slot name), in legacy ``.h5`` files and
TF checkpoints. See notes/optimizers.md."""

from __future__ import annotations

import re
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from kerasave.errors import UnknownObjectError, UnsafeConfigError

VARIABLE_VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"

#: tf_keras legacy ``OptimizerV2`` slot names -> Keras 3 slot names, per optimizer class.
LEGACY_SLOT_NAMES: Dict[str, Dict[str, str]] = {
    "Adam": {"m": "momentum", "v": "velocity", "vhat": "velocity_hat"},
    "AdamW": {"m": "momentum", "v": "velocity", "vhat": "velocity_hat"},
    "Nadam": {"m": "momentum", "v": "velocity"},
    "Adamax": {"m": "momentum", "v": "norm"},
    "SGD": {"momentum": "momentum"},
    "RMSprop": {"rms": "velocity", "momentum": "momentum", "mg": "average_gradient"},
    "Adagrad": {"accumulator": "accumulator"},
    "Adadelta": {"accum_grad": "accumulated_grad", "accum_var": "accumulated_delta_var"},
    "Ftrl": {"accumulator": "accumulator", "linear": "linear"},
}


# -- compile configs -------------------------------------------------------------------------------

def _lenient(value: Any, deserialize: Callable[[Any], Any], what: str) -> Any:
    """Deserializes the records in a (nested) loss/metric spec; strings stay names (Keras keeps
    them), unresolvable records stay configs (with a warning)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_lenient(v, deserialize, what) for v in value]
    if isinstance(value, dict) and not ("class_name" in value and "config" in value):
        return {k: _lenient(v, deserialize, what) for k, v in value.items()}
    try:
        return deserialize(value)
    except UnsafeConfigError:
        raise  # safe mode refuses a lambda loss as Keras does; never kept silently
    except (UnknownObjectError, TypeError, ValueError) as e:
        warnings.warn(f"compile config: keeping the {what} {value.get('class_name')!r} as a "
                      f"config ({e})", stacklevel=4)
        return value


def compile_args_from_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """``compile(**args)`` arguments from a Keras 3 ``compile_config`` or a tf_keras / Keras 3
    legacy-H5 ``training_config`` (``optimizer_config``, nested metric lists).

    Args:
        config: The dict (not modified).

    Returns:
        Arguments for :meth:`kerasave.Model.compile`.
    """
    from kerasave import losses, metrics, optimizers

    config = dict(config)
    opt_config = config.pop("optimizer_config", config.pop("optimizer", "rmsprop"))
    optimizer: Any = None
    if isinstance(opt_config, (str, dict)):
        try:
            optimizer = optimizers.get(opt_config)
        except (UnknownObjectError, ValueError, TypeError) as e:
            warnings.warn(f"compile config: optimizer {opt_config!r} could not be rebuilt ({e});"
                          " the model is compiled without an optimizer", stacklevel=3)
    else:
        optimizer = opt_config
    args: Dict[str, Any] = {"optimizer": optimizer}
    args["loss"] = _lenient(config.get("loss"), losses.deserialize, "loss")
    args["metrics"] = _lenient(config.get("metrics"), metrics.deserialize, "metric")
    args["weighted_metrics"] = _lenient(config.get("weighted_metrics"), metrics.deserialize,
                                        "metric")
    for key in ("loss_weights", "run_eagerly", "steps_per_execution", "jit_compile"):
        if key in config:
            args[key] = config[key]
    return args


# -- optimizer state ---------------------------------------------------------------------------

def _warn_fresh(where: str, why: str) -> None:
    warnings.warn(f"{where}: error in loading the saved optimizer state ({why}). As a result, "
                  "your model is starting with a freshly initialized optimizer.", stacklevel=4)


def _lr_variable(optimizer: Any) -> Any:
    from kerasave.layers.base import Variable

    lr = optimizer._learning_rate
    return lr if isinstance(lr, Variable) else None


def _slots_in_order(optimizer: Any) -> List[Any]:
    """Keras 3 variables after ``iteration`` and ``learning_rate``."""
    skip = {id(optimizer._iterations)}
    lr = _lr_variable(optimizer)
    if lr is not None:
        skip.add(id(lr))
    return [v for v in optimizer.variables if id(v) not in skip]


def _check_and_assign(pairs: Sequence[Tuple[Any, Any]], where: str) -> bool:
    for var, value in pairs:
        if tuple(np.shape(value)) != tuple(var.shape):
            _warn_fresh(where, f"{var.path} has shape {var.shape}, the file "
                               f"{tuple(np.shape(value))}")
            return False
    for var, value in pairs:
        var.assign(value)
    return True


def _nadam_u_product(optimizer: Any) -> None:
    """Keras 3's Nadam keeps ``u_product`` = prod over steps s of
    ``beta_1 * (1 - 0.5 * 0.96**s)`` in a variable tf_keras does not save (its new Nadam keeps
    it untracked, its legacy one keeps a differently scheduled ``momentum_cache``): recompute it
    from ``iterations`` in float32, in Keras's operation order (the last bit may differ from a
    TensorFlow run)."""
    u_var = getattr(optimizer, "_u_product", None)
    if u_var is None:
        return
    dt = u_var.numpy().dtype
    u = np.asarray(1.0, dt)
    beta_1 = np.asarray(optimizer.beta_1, dt)
    for step in range(1, int(optimizer.iterations) + 1):
        u = (u * beta_1) * (np.asarray(1.0, dt) - np.asarray(0.5, dt)
                            * np.power(np.asarray(0.96, dt), np.asarray(step, dt)))
    u_var.assign(u)


def _without_untracked(optimizer: Any, targets: List[Any]) -> List[Any]:
    u_var = getattr(optimizer, "_u_product", None)
    return [t for t in targets if t is not u_var]


def assign_tf_keras_new(optimizer: Any, iteration: Any, learning_rate: Any,
                        slots: Sequence[Any], where: str) -> bool:
    """Restores from the tf_keras (new optimizer) layout: iteration, optional learning rate,
    then the slots in Keras 3 order (tf_keras's ``_variables[1:]``)."""
    targets = _slots_in_order(optimizer)
    if not targets and slots and type(optimizer).__name__ == "SGD" and \
            not getattr(optimizer, "momentum", 0):
        # tf_keras's SGD makes a momentum slot per variable even with momentum=0 (never read);
        # Keras 3's has none. Nothing to restore there.
        slots = []
    recompute = False
    if len(targets) == len(slots) + 1 and len(_without_untracked(optimizer, targets)) == \
            len(slots):
        targets, recompute = _without_untracked(optimizer, targets), True
    if len(targets) != len(slots):
        _warn_fresh(where, f"the optimizer has {len(targets)} slot variables, the file "
                           f"{len(slots)}")
        return False
    pairs: List[Tuple[Any, Any]] = list(zip(targets, slots))
    if iteration is not None:
        pairs.insert(0, (optimizer._iterations, iteration))
    lr = _lr_variable(optimizer)
    if learning_rate is not None and lr is not None:
        pairs.insert(1 if iteration is not None else 0, (lr, learning_rate))
    ok = _check_and_assign(pairs, where)
    if ok and recompute:
        _nadam_u_product(optimizer)
    return ok


def assign_legacy_slots(optimizer: Any, iteration: Any, learning_rate: Any,
                        slots: Dict[str, List[Any]], where: str) -> bool:
    """Restores from the tf_keras legacy ``OptimizerV2`` layout: slots by legacy name, each a
    list aligned with the optimizer's trainable variables."""
    mapping = LEGACY_SLOT_NAMES.get(type(optimizer).__name__, {})
    pairs: List[Tuple[Any, Any]] = []
    for legacy_name, values in slots.items():
        k3_name = mapping.get(legacy_name, legacy_name)
        targets = optimizer._slots.get(k3_name)
        if targets is None or len(targets) != len(values):
            _warn_fresh(where, f"slot {legacy_name!r} has no counterpart with {len(values)} "
                               f"variables in {type(optimizer).__name__}")
            return False
        pairs.extend((t, v) for t, v in zip(targets, values) if t is not None)
    if iteration is not None:
        pairs.insert(0, (optimizer._iterations, iteration))
    lr = _lr_variable(optimizer)
    if learning_rate is not None and lr is not None:
        pairs.append((lr, learning_rate))
    ok = _check_and_assign(pairs, where)
    if ok:
        _nadam_u_product(optimizer)
    return ok


def _natural_key(name: str) -> Any:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def assign_from_h5(optimizer: Any, names: Sequence[str], values: Sequence[Any],
                   where: str) -> bool:
    """Restores an optimizer from a legacy ``.h5`` ``optimizer_weights`` group in any of the
    three layouts (Keras 3 positional, tf_keras new, tf_keras legacy).

    Args:
        optimizer: A built optimizer.
        names: ``optimizer_weights@weight_names``.
        values: The arrays, same order.
        where: The file, for messages.

    Returns:
        Whether the state was restored (else a warning was given, as Keras does).
    """
    names = [str(n) for n in names]
    if not any(n.endswith(":0") for n in names):
        # Keras 3 names (variable paths): Keras's set_weights, positional over the shorter
        # list (an unbuilt optimizer saved only iteration and learning_rate).
        return _check_and_assign(list(zip(optimizer.variables, values)), where)
    if names and names[0].split("/")[-1] in ("iteration:0", "iteration"):
        return assign_tf_keras_new(optimizer, values[0], None, list(values[1:]), where)
    iteration = None
    slots: Dict[str, List[Any]] = {}
    for name, value in zip(names, values):
        base = name[:-2] if name.endswith(":0") else name
        parts = base.split("/")
        if parts[-1] == "iter" and len(parts) <= 2:
            iteration = value
        elif len(parts) >= 3:
            slots.setdefault(parts[-1], []).append(value)
    if iteration is None and not slots:
        _warn_fresh(where, f"unrecognized optimizer weight names {names[:3]}")
        return False
    return assign_legacy_slots(optimizer, iteration, None, slots, where)


def checkpoint_tensors(optimizer: Any, prefix: str = "optimizer/") -> Dict[str, Any]:
    """The tf_keras (new optimizer) checkpoint keys of an optimizer's state:
    ``optimizer/_iterations``, ``optimizer/_learning_rate`` (a float learning rate) and
    ``optimizer/_variables/<1..N>`` (the slots; ``_variables/0`` is ``_iterations``)."""
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        # tf_keras's LossScaleOptimizerV3 delegates its checkpoint children to the inner
        # optimizer and adds loss_scale/{current_loss_scale, good_steps}.
        out = checkpoint_tensors(inner, prefix)
        if optimizer.built:
            out[f"{prefix}loss_scale/current_loss_scale{VARIABLE_VALUE}"] = \
                optimizer.dynamic_scale
            out[f"{prefix}loss_scale/good_steps{VARIABLE_VALUE}"] = optimizer.step_counter
        return out
    out: Dict[str, Any] = {f"{prefix}_iterations{VARIABLE_VALUE}": optimizer._iterations}
    lr = _lr_variable(optimizer)
    if lr is not None:
        out[f"{prefix}_learning_rate{VARIABLE_VALUE}"] = lr
    for i, var in enumerate(_slots_in_order(optimizer), start=1):
        out[f"{prefix}_variables/{i}{VARIABLE_VALUE}"] = var
    return out


def assign_from_checkpoint(optimizer: Any, store: Any, var_keys: Mapping[int, str],
                           where: str, prefix: str = "optimizer/") -> Optional[bool]:
    """Restores an optimizer from a TF checkpoint in the tf_keras layouts.

    Args:
        optimizer: A built optimizer.
        store: The checkpoint store (``key in store``, ``store[key]``).
        var_keys: ``id(model variable) -> its checkpoint key`` (for legacy slot keys).
        where: The checkpoint, for messages.
        prefix: The optimizer's object path.

    Returns:
        None when the checkpoint holds no optimizer state, else whether it was restored.
    """
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        restored = assign_from_checkpoint(inner, store, var_keys, where, prefix)
        for name, var in (("current_loss_scale", optimizer.dynamic_scale),
                          ("good_steps", optimizer.step_counter)):
            key = f"{prefix}loss_scale/{name}{VARIABLE_VALUE}"
            if key in store and tuple(np.shape(store[key])) == tuple(var.shape):
                var.assign(store[key])
        return restored
    keys = list(store)
    it_new = f"{prefix}_iterations{VARIABLE_VALUE}"
    if it_new in store:
        pat = re.compile(re.escape(prefix) + r"_variables/(\d+)" + re.escape(VARIABLE_VALUE))
        numbered = sorted((int(m.group(1)), k) for k in keys for m in [pat.fullmatch(k)] if m)
        slots = [store[k] for n, k in numbered if n >= 1]
        lr_key = f"{prefix}_learning_rate{VARIABLE_VALUE}"
        return assign_tf_keras_new(optimizer, store[it_new], store[lr_key] if lr_key in store
                                   else None, slots, where)
    it_legacy = f"{prefix}iter{VARIABLE_VALUE}"
    slot_marker = "/.OPTIMIZER_SLOT/" + prefix
    if it_legacy not in store and not any(slot_marker in k for k in keys):
        return None
    slots: Dict[str, List[Any]] = {}
    for var in optimizer._trainable_variables:
        var_key = var_keys.get(id(var))
        if var_key is None or not var_key.endswith(VARIABLE_VALUE):
            continue
        base = var_key[:-len(VARIABLE_VALUE)]
        for k in keys:
            if k.startswith(base + slot_marker) and k.endswith(VARIABLE_VALUE):
                slot = k[len(base + slot_marker):-len(VARIABLE_VALUE)]
                slots.setdefault(slot, []).append(store[k])
    lr_key = f"{prefix}learning_rate{VARIABLE_VALUE}"
    return assign_legacy_slots(optimizer, store[it_legacy] if it_legacy in store else None,
                               store[lr_key] if lr_key in store else None, slots, where)
