"""kerasave.saving.registry: Keras's custom-object registry and scopes; kerasave's built-ins.

Lookup rules are Keras 3.15.1's (``keras_formats.md`` §6.1): the scope, then the global registry,
then ``custom_objects``, then ``module_objects``; a scope replaces (does not merge with) the
enclosing one and is per thread.
"""

from __future__ import annotations

import threading
from typing import Any, Iterator

import pytest

import kerasave as ks
from kerasave.saving import registry, safe_mode
from kerasave.saving.registry import (
    CustomObjectScope,
    builtin_name,
    builtin_objects,
    custom_object_scope,
    get_registered_name,
    get_registered_object,
    lookup_builtin,
    register_builtin,
    register_keras_serializable,
    search_builtins,
)


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


class WithConfig:
    def get_config(self) -> dict:
        return {}


# -- register_keras_serializable ---------------------------------------------------------------


def test_register_default_package_and_name() -> None:
    @register_keras_serializable()
    class MyLayer(WithConfig):
        pass

    assert get_registered_name(MyLayer) == "Custom>MyLayer"
    assert get_registered_object("Custom>MyLayer") is MyLayer
    assert ks.saving.get_custom_objects() == {"Custom>MyLayer": MyLayer}


def test_register_package_and_name() -> None:
    @register_keras_serializable(package="MyPkg", name="Scaler")
    class ScaleLayer(WithConfig):
        pass

    @register_keras_serializable("MyPkg")
    def my_act(x: Any) -> Any:
        return x

    assert get_registered_name(ScaleLayer) == "MyPkg>Scaler"
    assert get_registered_object("MyPkg>Scaler") is ScaleLayer
    assert get_registered_name(my_act) == "MyPkg>my_act"
    assert get_registered_object("MyPkg>my_act") is my_act
    assert get_registered_object("ScaleLayer") is None  # only the key is registered


def test_register_returns_the_object_unchanged() -> None:
    class A(WithConfig):
        pass

    assert register_keras_serializable("P")(A) is A


def test_reregistering_a_name_replaces_it_like_keras() -> None:
    # Keras overwrites silently (re-running a notebook cell re-registers a new class object).
    @register_keras_serializable("P", "Thing")
    class First(WithConfig):
        pass

    @register_keras_serializable("P", "Thing")
    class Second(WithConfig):
        pass

    assert get_registered_object("P>Thing") is Second
    assert get_registered_name(First) == "P>Thing"


def test_class_without_get_config_is_rejected() -> None:
    class NoConfig:
        pass

    with pytest.raises(ValueError, match=r"get_config\(\)"):
        register_keras_serializable()(NoConfig)
    assert get_registered_object("Custom>NoConfig") is None


@pytest.mark.parametrize("value", [3, "name", None, [1]])
def test_non_callable_is_rejected(value: Any) -> None:
    with pytest.raises(TypeError, match="decorates classes and functions"):
        register_keras_serializable()(value)


def test_get_registered_name_falls_back_to_dunder_name() -> None:
    def f() -> None:
        pass

    assert get_registered_name(f) == "f"
    assert get_registered_name(WithConfig) == "WithConfig"


def test_exported_under_saving_and_utils() -> None:
    assert ks.saving.register_keras_serializable is register_keras_serializable
    assert ks.utils.register_keras_serializable is register_keras_serializable
    assert ks.saving.get_registered_object is get_registered_object
    assert ks.utils.get_registered_name is get_registered_name
    assert ks.utils.custom_object_scope is CustomObjectScope
    assert ks.utils.CustomObjectScope is CustomObjectScope
    assert ks.saving.custom_object_scope is CustomObjectScope
    assert ks.saving.CustomObjectScope is CustomObjectScope
    assert custom_object_scope is CustomObjectScope


# -- lookup order ------------------------------------------------------------------------------


def test_lookup_order_scope_then_global_then_custom_then_module() -> None:
    in_scope, in_global, in_custom, in_module = object(), object(), object(), object()
    registry._GLOBAL_CUSTOM_OBJECTS["k"] = in_global
    custom = {"k": in_custom, "c": in_custom}
    module = {"k": in_module, "c": in_module, "m": in_module}
    with custom_object_scope({"k": in_scope}):
        assert get_registered_object("k", custom, module) is in_scope
    assert get_registered_object("k", custom, module) is in_global
    assert get_registered_object("c", custom, module) is in_custom
    assert get_registered_object("m", custom, module) is in_module
    assert get_registered_object("absent", custom, module) is None
    assert get_registered_object("absent") is None


# -- scopes ------------------------------------------------------------------------------------


def test_scope_is_visible_inside_and_gone_after() -> None:
    a = object()
    with custom_object_scope({"A": a}) as scope:
        assert isinstance(scope, CustomObjectScope)
        assert get_registered_object("A") is a
    assert get_registered_object("A") is None


def test_nested_scope_replaces_then_restores_the_outer_one() -> None:
    a, b = object(), object()
    with custom_object_scope({"A": a}):
        with CustomObjectScope({"B": b}):
            assert get_registered_object("B") is b
            assert get_registered_object("A") is None  # Keras 3: replaced, not merged
        assert get_registered_object("A") is a
        assert get_registered_object("B") is None
    assert get_registered_object("A") is None


def test_scope_restores_after_an_exception() -> None:
    with pytest.raises(RuntimeError):
        with custom_object_scope({"A": 1}):
            raise RuntimeError
    assert get_registered_object("A") is None


def test_same_scope_object_can_be_reentered() -> None:
    outer = custom_object_scope({"A": 1})
    with outer:
        with custom_object_scope({"B": 2}):
            with outer:
                assert get_registered_object("A") == 1
            assert get_registered_object("B") == 2
        assert get_registered_object("A") == 1
    assert get_registered_object("A") is None


def test_scope_copies_its_dict() -> None:
    objects = {"A": 1}
    with custom_object_scope(objects):
        objects["B"] = 2
        assert get_registered_object("B") is None


def test_scope_accepts_several_dicts_and_none() -> None:
    with custom_object_scope({"A": 1, "B": 1}, None, {"B": 2}):
        assert get_registered_object("A") == 1
        assert get_registered_object("B") == 2
    with custom_object_scope(None):
        assert get_registered_object("A") is None


def test_scope_is_thread_local() -> None:
    seen = []
    with custom_object_scope({"A": 1}):
        t = threading.Thread(target=lambda: seen.append(get_registered_object("A")))
        t.start()
        t.join()
        assert get_registered_object("A") == 1
    assert seen == [None]


def test_global_registry_is_shared_across_threads() -> None:
    @register_keras_serializable("P")
    def f() -> None:
        pass

    seen = []
    t = threading.Thread(target=lambda: seen.append(get_registered_object("P>f")))
    t.start()
    t.join()
    assert seen == [f]


# -- built-in table ----------------------------------------------------------------------------


def test_register_builtin_directly_and_as_decorator() -> None:
    @register_builtin("keras.layers")
    class Dense:
        pass

    def relu(x: Any) -> Any:
        return x

    assert register_builtin("keras.activations", "relu", relu) is relu
    assert lookup_builtin("keras.layers", "Dense") is Dense
    assert lookup_builtin("keras.activations", "relu") is relu
    assert builtin_name(Dense) == ("keras.layers", "Dense")
    assert builtin_objects("keras.layers") == {"Dense": Dense}
    assert builtin_objects("keras.losses") == {}
    # Built-ins are written under their Keras name, without a package.
    assert get_registered_name(Dense) == "Dense"


def test_builtin_name_can_differ_from_the_python_name() -> None:
    class _KsSequential:
        pass

    register_builtin("keras", "Sequential", _KsSequential, aliases=["keras.models.Sequential"])
    assert builtin_name(_KsSequential) == ("keras", "Sequential")
    assert lookup_builtin("keras.models", "Sequential") is _KsSequential
    assert get_registered_name(_KsSequential) == "Sequential"


def test_internal_keras_modules_map_onto_public_namespaces() -> None:
    dense, seq, sched, policy = (type(n, (), {}) for n in ("D", "S", "E", "P"))
    register_builtin("keras.layers", "Dense", dense)
    register_builtin("keras", "Sequential", seq)
    register_builtin("keras.optimizers.schedules", "ExponentialDecay", sched)
    register_builtin("keras", "DTypePolicy", policy)
    assert lookup_builtin("keras.src.layers.core.dense", "Dense") is dense
    assert lookup_builtin("keras.src.layers", "Dense") is dense
    assert lookup_builtin("keras.src.models.sequential", "Sequential") is seq
    assert lookup_builtin("keras.models", "Sequential") is seq
    assert lookup_builtin(
        "keras.src.optimizers.schedules.learning_rate_schedule", "ExponentialDecay"
    ) is sched
    assert lookup_builtin("keras.src.dtype_policies.dtype_policy", "DTypePolicy") is policy
    assert lookup_builtin("keras.dtype_policies", "DTypePolicy") is policy
    # Names only resolve in their own namespaces.
    assert lookup_builtin("keras.src.saving.saving_lib", "Dense") is None
    assert lookup_builtin("keras.losses", "Dense") is None
    assert lookup_builtin("keras.layers", "Sequential") is None


def test_search_builtins_by_bare_name_prefers_layers() -> None:
    layer, metric, loss = (type(n, (), {}) for n in ("L", "M", "S"))
    register_builtin("keras.metrics", "Thing", metric)
    register_builtin("keras.layers", "Thing", layer)
    register_builtin("keras.losses", "MeanSquaredError", loss)
    assert search_builtins("Thing") is layer
    assert search_builtins("Thing", ["keras.metrics"]) is metric
    assert search_builtins("MeanSquaredError") is loss
    assert search_builtins("Nothing") is None


def test_register_builtin_conflicts_and_bad_modules() -> None:
    a, b = type("A", (), {}), type("B", (), {})
    register_builtin("keras.layers", "X", a)
    register_builtin("keras.layers", "X", a)  # idempotent for the same object
    with pytest.raises(ValueError, match="already registered"):
        register_builtin("keras.layers", "X", b)
    with pytest.raises(ValueError, match="Keras namespaces"):
        register_builtin("os", "system", b)
    with pytest.raises(ValueError, match="Keras API name"):
        register_builtin("keras.layers", "Y", b, aliases=["Y"])
