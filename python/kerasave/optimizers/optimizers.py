"""The Keras 3.15.1 optimizers: configs (keys, order and defaults as Keras writes them) and the
slot variables each creates in ``build`` (names, order, initial values)."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from kerasave.optimizers.base_optimizer import Optimizer

__all__ = ["SGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl",
           "Lamb", "Lion", "LossScaleOptimizer", "Muon", "Nadam", "RMSprop", "ScheduleFreeAdamW"]

class SGD(Optimizer):
    """Gradient descent (with momentum): slot ``momentum`` only when ``momentum != 0``."""

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not isinstance(momentum, (int, float)) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = nesterov

    def _build_slots(self, var_list: List[Any]) -> None:
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(var_list, "momentum")

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam: slots ``momentum``, ``velocity`` interleaved per variable, then ``velocity_hat``
    (amsgrad)."""

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _build_slots(self, var_list: List[Any]) -> None:
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004; same slots as Adam)."""

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")


class Adamax(Optimizer):
    """Adamax: slots ``momentum``, ``norm``."""

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _build_slots(self, var_list: List[Any]) -> None:
        self._m, self._u = self.add_optimizer_variables(var_list, ["momentum", "norm"])

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adagrad(Optimizer):
    """Adagrad: slot ``accumulator`` filled with ``initial_accumulator_value``."""

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _build_slots(self, var_list: List[Any]) -> None:
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=float(self.initial_accumulator_value))

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta: slots ``accumulated_grad``, ``accumulated_delta_var``."""

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.95, epsilon: float = 1e-7,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def _build_slots(self, var_list: List[Any]) -> None:
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            var_list, ["accumulated_grad", "accumulated_delta_var"])

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """RMSprop: all ``velocity`` slots, then ``momentum`` (momentum > 0), then
    ``average_gradient`` (centered) - grouped by slot, not interleaved."""

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _build_slots(self, var_list: List[Any]) -> None:
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(var_list, "average_gradient")

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Nadam(Optimizer):
    """Nadam: slots ``momentum``, ``velocity``, then one scalar ``u_product`` (initial 1.0; Keras
    names it plain ``variable``, outside the optimizer's name scope)."""

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _build_slots(self, var_list: List[Any]) -> None:
        from kerasave.layers.base import _np_dtype

        dtype = _np_dtype(var_list[0].dtype) if var_list else np.dtype("float32")
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        self._u_product = self._new_variable(np.asarray(1.0, dtype=dtype), "variable",
                                             path="variable")

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Ftrl(Optimizer):
    """FTRL: slots ``accumulator`` (filled with ``initial_accumulator_value``), ``linear``."""

    def __init__(self, learning_rate: Any = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1,
                 l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0,
                 l2_shrinkage_regularization_strength: float = 0.0, beta: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        if initial_accumulator_value < 0.0:
            raise ValueError("`initial_accumulator_value` needs to be positive or zero. "
                             f"Received: initial_accumulator_value={initial_accumulator_value}.")
        if learning_rate_power > 0.0:
            raise ValueError("`learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power}.")
        for key, value in (("l1_regularization_strength", l1_regularization_strength),
                           ("l2_regularization_strength", l2_regularization_strength),
                           ("l2_shrinkage_regularization_strength",
                            l2_shrinkage_regularization_strength)):
            if value < 0.0:
                raise ValueError(f"`{key}` needs to be positive or zero. Received: "
                                 f"{key}={value}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def _build_slots(self, var_list: List[Any]) -> None:
        self._accumulators, self._linears = self.add_optimizer_variables(
            var_list, ["accumulator", "linear"],
            initializer=[float(self.initial_accumulator_value), "zeros"])

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength":
                    self.l2_shrinkage_regularization_strength,
                "beta": self.beta}


class Lion(Optimizer):
    """Lion: slot ``momentum``."""

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.99,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Argument for `beta_1` must be in range [0, 1]. Received: "
                             f"beta_1={beta_1}.")
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def _build_slots(self, var_list: List[Any]) -> None:
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Lamb(Optimizer):
    """LAMB: slots ``momentum``, ``velocity``."""

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _build_slots(self, var_list: List[Any]) -> None:
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Muon(Optimizer):
    """Muon: per variable a ``momentum``, plus a ``velocity`` for the variables Adam updates
    (not 2-D, embeddings when ``exclude_embeddings``, paths matching ``exclude_layers``)."""

    def __init__(self, learning_rate: Any = 0.001, adam_beta_1: float = 0.9,
                 adam_beta_2: float = 0.999, adam_weight_decay: float = 0.004,
                 epsilon: float = 1e-7, weight_decay: float = 0.004,
                 exclude_layers: Optional[List[str]] = None, exclude_embeddings: bool = True,
                 muon_a: float = 3.4445, muon_b: float = -4.7750, muon_c: float = 2.0315,
                 adam_lr_ratio: float = 1, momentum: float = 0.95, ns_steps: int = 5,
                 nesterov: bool = True, rms_rate: float = 0.2, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, **kwargs)
        self.adam_beta_1 = adam_beta_1
        self.adam_beta_2 = adam_beta_2
        self.epsilon = epsilon
        self.muon_a = muon_a
        self.muon_b = muon_b
        self.muon_c = muon_c
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = momentum
        self.ns_steps = ns_steps
        self.nesterov = nesterov
        self.exclude_embeddings = exclude_embeddings
        self.exclude_layers = exclude_layers or []
        self.adam_weight_decay = adam_weight_decay
        self.rms_rate = rms_rate

    def _should_use_adamw(self, variable: Any) -> bool:
        if len(variable.shape) != 2:
            return True
        path = str(getattr(variable, "path", variable.name))
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(keyword, path) for keyword in self.exclude_layers)

    def _build_slots(self, var_list: List[Any]) -> None:
        self.momentums: List[Any] = [None] * len(var_list)
        self.adam_velocities: List[Any] = [None] * len(var_list)
        for i, var in enumerate(var_list):
            if getattr(var, "overwrite_with_gradient", False):
                continue
            self.momentums[i] = self.add_variable_from_reference(var, name="momentum")
            if self._should_use_adamw(var):
                self.adam_velocities[i] = self.add_variable_from_reference(var, name="velocity")
        self._slots["momentum"] = self.momentums
        self._slots["velocity"] = self.adam_velocities

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "adam_beta_1": self.adam_beta_1,
                "adam_beta_2": self.adam_beta_2, "epsilon": self.epsilon,
                "exclude_layers": self.exclude_layers, "muon_a": self.muon_a,
                "muon_b": self.muon_b, "muon_c": self.muon_c,
                "adam_lr_ratio": self.adam_lr_ratio, "momentum": self.momentum,
                "ns_steps": self.ns_steps, "nesterov": self.nesterov,
                "exclude_embeddings": self.exclude_embeddings,
                "adam_weight_decay": self.adam_weight_decay, "rms_rate": self.rms_rate}


class Adafactor(Optimizer):
    """Adafactor: per variable ``r``, ``c`` (factored second moments; int32 scalars for
    variables of rank < 2, named like the variable, as Keras 3 creates them) and
    ``velocity``."""

    def __init__(self, learning_rate: Any = 0.001, beta_2_decay: float = -0.8,
                 epsilon_1: float = 1e-30, epsilon_2: float = 1e-3,
                 clip_threshold: float = 1.0, relative_step: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_2_decay = beta_2_decay
        self.epsilon_1 = epsilon_1
        self.epsilon_2 = epsilon_2
        self.clip_threshold = clip_threshold
        self.relative_step = relative_step

    def _build_slots(self, var_list: List[Any]) -> None:
        from kerasave.layers.base import _np_dtype

        self._r: List[Any] = []
        self._c: List[Any] = []
        self._v: List[Any] = []
        for var in var_list:
            overwrite = getattr(var, "overwrite_with_gradient", False)
            name = str(var.name)
            if len(var.shape) < 2:
                # Keras creates these with backend.Variable(0, name=...) outside the name scope.
                self._r.append(self._new_variable(np.int32(0), name, path=name))
                self._c.append(self._new_variable(np.int32(0), name, path=name))
            elif overwrite:
                self._r.append(None)
                self._c.append(None)
            else:
                shape = tuple(var.shape)
                dtype = _np_dtype(var.dtype)
                self._r.append(self._new_variable(np.zeros(shape[:-1], dtype), name))
                self._c.append(self._new_variable(
                    np.zeros(shape[:-2] + (shape[-1],), dtype), name))
            self._v.append(None if overwrite else
                           self.add_variable_from_reference(var, name="velocity"))
        self._slots.update({"r": self._r, "c": self._c, "velocity": self._v})

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay,
                "epsilon_1": self.epsilon_1, "epsilon_2": self.epsilon_2,
                "clip_threshold": self.clip_threshold, "relative_step": self.relative_step}


class ScheduleFreeAdamW(Optimizer):
    """Schedule-free AdamW: slots ``momentum`` (starts as a copy of the variable) and
    ``velocity``."""

    def __init__(self, learning_rate: Any = 0.0025, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, warmup_steps: int = 0, **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.warmup_steps = warmup_steps

    def _build_slots(self, var_list: List[Any]) -> None:
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        for momentum, var in zip(self._momentums, var_list):
            if momentum is not None:
                momentum.assign(np.array(var.numpy(), copy=True))

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "warmup_steps": self.warmup_steps}


class LossScaleOptimizer(Optimizer):
    """Dynamic loss scaling around an inner optimizer (what Keras 3's ``compile`` wraps the
    optimizer in for ``mixed_float16`` models).

    ``variables`` is its own ``[iteration, learning_rate (0.0), step_counter,
    dynamic_scale]`` followed by ``inner_optimizer.variables``; the inner optimizer is also
    saved on its own at ``optimizer/inner_optimizer/vars``. ``iterations`` and
    ``learning_rate`` are the inner optimizer's.

    Args:
        inner_optimizer: The optimizer (object or record).
        initial_scale: Initial loss scale.
        dynamic_growth_steps: Steps between scale increases.
        name: Default ``loss_scale_optimizer``.
        **kwargs: Base optimizer arguments at their defaults only (Keras raises otherwise).
    """

    _BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None,
                      "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                      "ema_overwrite_frequency": None, "loss_scale_factor": None,
                      "gradient_accumulation_steps": None}

    def __init__(self, inner_optimizer: Any, initial_scale: float = 2.0 ** 15,
                 dynamic_growth_steps: int = 2000, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, "
                             "simply set `loss_scale_factor` directly on the `inner_optimizer`.")
        for key, default in self._BASE_DEFAULTS.items():
            if key in kwargs and kwargs.pop(key) != default:
                raise ValueError(f"LossScaleOptimizer does not support `{key}`. Instead, set "
                                 f"`{key}` on the `inner_optimizer`.")
        if kwargs:
            raise ValueError("LossScaleOptimizer does not support arguments: "
                             f"`{'`, `'.join(kwargs)}`.")
        super().__init__(learning_rate=0.0, name=name)
        if isinstance(inner_optimizer, dict):
            from kerasave.optimizers import deserialize

            inner_optimizer = deserialize(inner_optimizer)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = dynamic_growth_steps
        self.inner_optimizer.loss_scale_factor = None

    def build(self, var_list: Any) -> None:
        if self.built:
            return
        self.step_counter = self._new_variable(np.int64(0), "step_counter")
        self.dynamic_scale = self._new_variable(np.float32(self.initial_scale),
                                                "dynamic_scale")
        before = {id(v) for v in self.inner_optimizer.variables}
        self.inner_optimizer.build(var_list)
        for v in self.inner_optimizer.variables:
            if id(v) not in before:  # slots are created inside this optimizer's name scope
                v.path = f"{self.name}/{v.path}"
        super().build(var_list)

    @property
    def variables(self) -> List[Any]:
        return self._variables[:] + self.inner_optimizer.variables

    @property
    def iterations(self) -> Any:
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self) -> Any:
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self.inner_optimizer.learning_rate = value

    def slot(self, variable: Any, slot_name: str) -> Any:
        return self.inner_optimizer.slot(variable, slot_name)

    def slot_names(self) -> List[str]:
        return self.inner_optimizer.slot_names()

    def _saveable_children(self) -> List[Tuple[str, Any]]:
        return [("inner_optimizer", self.inner_optimizer)]

    def save_own_variables(self, store: Dict[str, Any]) -> None:
        for i, v in enumerate(self.variables):
            store[str(i)] = v.numpy()

    def load_own_variables(self, store: Any) -> None:
        keys = list(store.keys())
        variables = self.variables
        if len(keys) != len(variables):
            import warnings

            warnings.warn(
                f"Skipping variable loading for optimizer '{self.name}', because it has "
                f"{len(variables)} variables whereas the saved optimizer has {len(keys)} "
                "variables. ", stacklevel=2)
            return
        values = [store[str(i)] for i in range(len(variables))]
        for var, value in zip(variables, values):
            if tuple(np.shape(value)) != tuple(var.shape):
                raise ValueError(f"Optimizer '{self.name}': variable {var.path} has shape "
                                 f"{var.shape} but the saved value has shape "
                                 f"{tuple(np.shape(value))}")
        for var, value in zip(variables, values):
            var.assign(value)

    def get_config(self) -> Dict[str, Any]:
        from kerasave.saving.serialization import serialize_keras_object

        return {"name": self.name,
                "inner_optimizer": serialize_keras_object(self.inner_optimizer),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config: Any, custom_objects: Any = None) -> "LossScaleOptimizer":
        from kerasave.optimizers import deserialize

        config = dict(config)
        inner = deserialize(config.pop("inner_optimizer"), custom_objects=custom_objects)
        return cls(inner, **config)
