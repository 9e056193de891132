"""The Keras 3 ``Optimizer`` base: config, ``iterations``, ``learning_rate`` and the optimizer
variables (keras_formats.md §2.2 "Optimizer"). kerasave keeps optimizer *state*; it does not
compute updates."""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from kerasave.layers.base import Variable, to_snake_case, unique_name
from kerasave.optimizers import schedules as _schedules
from kerasave.saving import registry as _registry

__all__ = ["Optimizer", "OptimizerVariable"]

# Keys tf_keras (Keras 2) optimizer configs carry that Keras 3 has no argument for. Keras 3
# itself refuses ``jit_compile`` / ``is_legacy_optimizer`` ("Argument(s) not recognized"); we
# drop them so tf_keras files load compiled (notes/optimizers.md).
_TF_KERAS_ONLY_KEYS = ("jit_compile", "is_legacy_optimizer")


class OptimizerVariable(Variable):
    """An optimizer variable: a numpy-backed :class:`~kerasave.layers.base.Variable` that also
    converts with ``int()`` / ``float()`` (``int(opt.iterations)``)."""

    def __float__(self) -> float:
        return float(self._value)

    def __int__(self) -> int:
        return int(self._value)

    def __index__(self) -> int:
        return int(self._value)


def _as_lr_value(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"Argument `learning_rate` should be float, or an instance of "
                         f"LearningRateSchedule. Received instead: learning_rate={value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)) or (
            isinstance(value, np.ndarray) and value.ndim == 0):
        return float(value)
    raise ValueError(
        "Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or a "
        "callable (that takes in the current iteration value and returns the corresponding "
        f"learning rate value). Received instead: learning_rate={value!r}")


class Optimizer:
    """Base class of Keras 3 optimizers: hyperparameters, ``iterations``, ``learning_rate`` and
    the per-variable slots, in Keras 3's ``optimizer.variables`` order.

    ``optimizer.variables`` is ``[iteration (int64 scalar), learning_rate (float32 scalar,
    absent with a schedule)]``, then what :meth:`build` adds: EMA averages (``use_ema``),
    gradient accumulators (``gradient_accumulation_steps``), then the subclass's slots.

    Args:
        learning_rate: A float, a :class:`~kerasave.optimizers.schedules.LearningRateSchedule`
            or a callable.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps: Recorded as
            Keras 3 records them.
        name: Defaults to the snake_case class name made unique (``adam``, ``adam_1``).
        **kwargs: ``decay`` (Keras 2; warned about and ignored as Keras 3 does), ``lr`` (old
            alias of ``learning_rate``), tf_keras's ``jit_compile`` / ``is_legacy_optimizer``
            (ignored).

    Raises:
        ValueError: Unknown arguments or invalid values (the checks Keras 3 makes).
    """

    def __init__(self, learning_rate: Any, weight_decay: Optional[float] = None,
                 clipnorm: Optional[float] = None, clipvalue: Optional[float] = None,
                 global_clipnorm: Optional[float] = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: Optional[int] = None,
                 loss_scale_factor: Optional[float] = None,
                 gradient_accumulation_steps: Optional[int] = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        decay = kwargs.pop("decay", None)
        if decay is not None and decay != 0:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.",
                          stacklevel=2)
        for key in _TF_KERAS_ONLY_KEYS:
            kwargs.pop(key, None)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        self.name = name if name is not None else unique_name(to_snake_case(type(self).__name__))
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.global_clipnorm = global_clipnorm
        self.clipvalue = clipvalue
        self.use_ema = use_ema
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        if gradient_accumulation_steps and not gradient_accumulation_steps >= 2:
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. Received: "
                             f"gradient_accumulation_steps={gradient_accumulation_steps}")
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError("`ema_momentum` must be in the range [0, 1]. Received: "
                                 f"ema_momentum={ema_momentum}")
            if ema_overwrite_frequency and (not isinstance(ema_overwrite_frequency, int)
                                            or ema_overwrite_frequency < 1):
                raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. "
                                 f"Received: ema_overwrite_frequency={ema_overwrite_frequency}")
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self.built = False
        self._variables: List[OptimizerVariable] = []
        self._trainable_variables: List[Variable] = []
        self._trainable_variables_indices: Dict[int, int] = {}
        # Slots by name, each a list aligned with the trainable variables (None where a
        # variable has no such slot); for the tf_keras checkpoint and H5 layouts.
        self._slots: Dict[str, List[Optional[OptimizerVariable]]] = {}
        self._iterations = self._new_variable(np.int64(0), "iteration")
        self._learning_rate: Any
        if isinstance(learning_rate, _schedules.LearningRateSchedule) or (
                callable(learning_rate) and not isinstance(learning_rate, Variable)):
            self._learning_rate = learning_rate
        else:
            if isinstance(learning_rate, Variable):
                learning_rate = learning_rate.numpy()
            self._learning_rate = self._new_variable(
                np.float32(_as_lr_value(learning_rate)), "learning_rate")

    # -- variables -------------------------------------------------------------------------

    def _new_variable(self, value: Any, name: str, path: Optional[str] = None,
                      track: bool = True) -> OptimizerVariable:
        var = OptimizerVariable(np.asarray(value), name=name,
                                path=path if path is not None else f"{self.name}/{name}",
                                trainable=False)
        if track:
            self._variables.append(var)
        return var

    def add_variable(self, shape: Sequence[int], initializer: Any = "zeros", dtype: Any = None,
                     aggregation: str = "none", layout: Any = None,
                     name: Optional[str] = None) -> OptimizerVariable:
        """Adds a tracked optimizer variable (Keras ``Optimizer.add_variable``).

        Args:
            shape: Its shape.
            initializer: An initializer, its name, or a number (filled in).
            dtype: Defaults to float32.
            aggregation: Ignored.
            layout: Ignored.
            name: Its name; the path is ``"<optimizer name>/<name>"``.

        Returns:
            The variable.
        """
        from kerasave import initializers
        from kerasave.layers.base import _np_dtype

        np_dtype = _np_dtype(dtype if dtype is not None else "float32")
        shape = tuple(int(s) for s in shape)
        if isinstance(initializer, (int, float)) and not isinstance(initializer, bool):
            value = np.full(shape, initializer, dtype=np_dtype)
        else:
            init = initializers.get(initializer)
            value = np.asarray(init(shape, dtype="float32")).astype(np_dtype, copy=False)
        return self._new_variable(value, name or "variable")

    def add_variable_from_reference(self, reference_variable: Any, name: Optional[str] = None,
                                    initializer: Any = "zeros") -> OptimizerVariable:
        """A variable shaped like ``reference_variable`` named ``"<path with _>_<name>"``
        (``adam/dense_kernel_momentum``), as Keras 3 names slots.

        Args:
            reference_variable: The model variable.
            name: The slot name (default ``"var"``).
            initializer: Initializer or constant.

        Returns:
            The variable.
        """
        name = name or "var"
        ref_path = getattr(reference_variable, "path", None)
        if ref_path is not None:
            full = f"{str(ref_path).replace('/', '_')}_{name}"
        else:
            ref_name = str(reference_variable.name).replace("/", "_").replace(":", "_")
            full = f"{ref_name}_{name}"
        return self.add_variable(tuple(reference_variable.shape), initializer=initializer,
                                 dtype=reference_variable.dtype, name=full)

    def add_optimizer_variables(self, trainable_variables: Sequence[Any],
                                name: Union[str, Sequence[str]],
                                initializer: Any = "zeros") -> Any:
        """One slot per name per variable, interleaved per variable (Keras 3 order).

        Args:
            trainable_variables: The model variables.
            name: A slot name or a list of them.
            initializer: One initializer, or one per name.

        Returns:
            A list of slots (one name) or a tuple of lists (several names).
        """
        names = [name] if isinstance(name, str) else list(name)
        inits = (initializer if isinstance(initializer, (list, tuple))
                 else [initializer] * len(names))
        if len(inits) != len(names):
            raise ValueError("The number of provided names must match the number of provided "
                             f"initializers.  Received name='{name}', initializer='{initializer}'")
        out: Tuple[List[Optional[OptimizerVariable]], ...] = tuple([] for _ in names)
        for var in trainable_variables:
            overwrite = getattr(var, "overwrite_with_gradient", False)
            for i, (n, init) in enumerate(zip(names, inits)):
                out[i].append(None if overwrite else
                              self.add_variable_from_reference(var, name=n, initializer=init))
        for n, slots in zip(names, out):
            self._slots[n] = slots
        return out[0] if isinstance(name, str) else out

    def build(self, var_list: Sequence[Any]) -> None:
        """Creates the slots for the model's trainable variables (no-op when built).

        Args:
            var_list: ``model.trainable_variables``, in that order.
        """
        if self.built:
            return
        var_list = list(var_list)
        if self.use_ema:
            self._model_variables_moving_average = self.add_optimizer_variables(
                var_list, "average")
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = self.add_optimizer_variables(
                var_list, "gradient_accumulator")
        for i, var in enumerate(var_list):
            self._trainable_variables_indices[id(var)] = i
        self._trainable_variables = var_list[:]
        self._build_slots(var_list)
        self.built = True

    def _build_slots(self, var_list: List[Any]) -> None:
        """The subclass's own slots (the base optimizer has none)."""

    @property
    def variables(self) -> List[OptimizerVariable]:
        """All optimizer variables, Keras 3 order (a copy of the list)."""
        return self._variables[:]

    @property
    def iterations(self) -> OptimizerVariable:
        """The int64 step counter (the raw counter: with gradient accumulation Keras divides
        it by the number of steps)."""
        return self._iterations

    @property
    def learning_rate(self) -> Any:
        """The learning-rate variable, or the schedule's value at ``iterations``."""
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            return lr(int(self._iterations))
        if isinstance(lr, Variable):
            return lr
        if callable(lr):
            return lr()
        return lr

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if isinstance(value, _schedules.LearningRateSchedule) or (
                callable(value) and not isinstance(value, Variable)):
            if isinstance(self._learning_rate, Variable):
                self._variables = [v for v in self._variables if v is not self._learning_rate]
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, _schedules.LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. "
                "If you need the learning rate to be settable, you should instantiate the "
                "optimizer with a float `learning_rate` argument.")
        self._learning_rate.assign(np.float32(_as_lr_value(np.asarray(value))))

    def _var_key(self, variable: Any) -> int:
        return id(variable)

    def slot(self, variable: Any, slot_name: str) -> Optional[OptimizerVariable]:
        """The slot ``slot_name`` (e.g. ``"momentum"``) of a model variable, or None."""
        idx = self._trainable_variables_indices.get(id(variable))
        slots = self._slots.get(slot_name)
        if idx is None or slots is None:
            return None
        return slots[idx]

    def slot_names(self) -> List[str]:
        """Slot names in creation order (``["momentum", "velocity"]`` for Adam)."""
        return list(self._slots)

    def get_weights(self) -> List[np.ndarray]:
        """The values of :attr:`variables` (no copies)."""
        return [v.numpy() for v in self._variables]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Assigns :attr:`variables` in order (Keras 3: zip, shapes checked).

        Raises:
            ValueError: The optimizer is not built, or a shape differs.
        """
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been built. "
                "Please call `optimizer.build(trainable_variables)` to create the optimizer "
                "weights before calling `set_weights()`.")
        for variable, weight in zip(self._variables, weights):
            if tuple(variable.shape) != tuple(np.shape(weight)):
                raise ValueError(
                    f"Optimizer variable {variable.path} has shape {variable.shape} not "
                    f"compatible with provided weight shape {tuple(np.shape(weight))}.")
            variable.assign(weight)

    # -- Keras saving protocol -------------------------------------------------------------

    def _own_variables(self) -> List[OptimizerVariable]:
        return self.variables

    def save_own_variables(self, store: Dict[str, Any]) -> None:
        """``store["0"], store["1"], ...`` = :attr:`variables`."""
        for i, v in enumerate(self._variables):
            store[str(i)] = v.numpy()

    def load_own_variables(self, store: Mapping[str, Any]) -> None:
        """Restores :attr:`variables` from ``store["0"], ...``; a count mismatch warns and
        skips, as Keras 3 does."""
        keys = list(store.keys())
        lr_is_variable = isinstance(self._learning_rate, Variable)
        if lr_is_variable and len(keys) == len(self._variables) - 1 and len(keys) >= 1:
            # tf_keras's own .keras: iteration then the slots, no learning rate.
            from kerasave.optimizers._compat import assign_tf_keras_new

            values = [store[str(i)] for i in range(len(keys))]
            assign_tf_keras_new(self, values[0], None, values[1:],
                                f"optimizer '{self.name}'")
            return
        if len(keys) != len(self._variables):
            msg = (f"Skipping variable loading for optimizer '{self.name}', because it has "
                   f"{len(self._variables)} variables whereas the saved optimizer has "
                   f"{len(keys)} variables. ")
            if len(self._variables) == 0:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        values = [store[str(i)] for i in range(len(self._variables))]
        for var, value in zip(self._variables, values):
            if tuple(np.shape(value)) != tuple(var.shape):
                raise ValueError(
                    f"Optimizer '{self.name}': variable {var.path} has shape {var.shape} but the "
                    f"saved value has shape {tuple(np.shape(value))}")
        for var, value in zip(self._variables, values):
            var.assign(value)

    def _obj_type(self) -> str:
        return "Optimizer"

    # -- config ----------------------------------------------------------------------------

    def _learning_rate_config(self) -> Any:
        from kerasave.saving.serialization import serialize_keras_object

        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            return _schedules.serialize(lr)
        if isinstance(lr, Variable):
            return float(lr.numpy())
        if callable(lr):
            return serialize_keras_object(lr)
        return 0.5

    def get_config(self) -> Dict[str, Any]:
        """The Keras 3 config (learning rate as a float32-rounded float or a schedule record)."""
        return {
            "name": self.name,
            "learning_rate": self._learning_rate_config(),
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any],
                    custom_objects: Optional[Mapping[str, Any]] = None) -> "Optimizer":
        """``cls(**config)`` with a schedule record deserialized; Keras 2 / tf_keras keys
        (``lr``, ``decay``, ``jit_compile``, ``is_legacy_optimizer``) accepted."""
        from kerasave.saving.serialization import deserialize_keras_object

        config = dict(config)
        if "lr" in config:
            lr = config.pop("lr")
            config.setdefault("learning_rate", lr)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_keras_object(
                config["learning_rate"], custom_objects=custom_objects,
                module_objects=_registry.builtin_objects("keras.optimizers.schedules"))
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"
