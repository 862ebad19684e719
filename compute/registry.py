"""Name -> family class, imported lazily on first use.

A registry of kinds: the trainer, the CLI, the Celery task and the web recipes only ever see a
name such as ``"flow-matching"``; the module behind it is imported the first time it is needed,
so a model file that is missing or broken never stops the others from being listed or built.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from typing import Any

from compute.families.base import DataSpec, Family

# name -> "module:Class". The names are part of the public API (URLs, recipes, results).
_TARGETS: dict[str, str] = {
    "vae": "compute.families.vae:VAE",
    "gan": "compute.families.gan:GAN",
    "diffusion": "compute.families.diffusion:Diffusion",
    "realnvp": "compute.families.realnvp:RealNVP",
    "flow-matching": "compute.families.flow_matching:FlowMatching",
    "ebm": "compute.families.ebm:EBM",
    "ar-grid": "compute.families.ar_grid:ARGrid",
    "made": "compute.families.made:MADE",
    "char-transformer": "compute.families.char_transformer:CharTransformer",
}

_cache: dict[str, type[Family]] = {}


def names() -> list[str]:
    """Every registered name, in a fixed order (the order above)."""
    return list(_TARGETS)


def target(name: str) -> str:
    """The ``"module:Class"`` string behind a name."""
    if name not in _TARGETS:
        raise KeyError(f"unknown model {name!r}; valid names: {', '.join(_TARGETS)}")
    return _TARGETS[name]


def get(name: str) -> type[Family]:
    """The family class for ``name``, importing its module on first use.

    KeyError for an unknown name (listing the valid ones); ImportError/AttributeError from the
    module itself are left to propagate so that a broken model file is loud.
    """
    if name in _cache:
        return _cache[name]
    module_name, cls_name = target(name).split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    _cache[name] = cls
    return cls


def is_available(name: str) -> bool:
    """True when the model's module imports; False when it does not exist (yet) or fails to import."""
    try:
        get(name)
    except (ImportError, AttributeError):
        return False
    return True


def config_fields(cls: type[Family]) -> list[dict[str, Any]]:
    """The config dataclass fields of a family: name, default, type (as text)."""
    hints = typing.get_type_hints(cls.Config)
    out = []
    for f in dataclasses.fields(cls.Config):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        out.append({"name": f.name, "default": default, "type": _type_name(hints.get(f.name, f.type))})
    return out


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def default_variant(cls: type[Family]) -> str:
    """The variant a family's Config defaults to (else its first listed variant)."""
    for f in dataclasses.fields(cls.Config):
        if f.name == "variant" and f.default is not dataclasses.MISSING:
            return f.default
    return cls.variants[0]


def make_config(name: str, *, variant: str | None = None, **overrides: Any) -> Any:
    """``cls.Config`` with ``variant`` and ``overrides`` applied, validated.

    ValueError names unknown override keys and unknown variants; values are taken as given
    (use :func:`coerce_overrides` first when they come as strings from a CLI or a form).
    """
    cls = get(name)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(overrides) - fields - {"variant"})
    if unknown:
        raise ValueError(
            f"{name}: unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(fields))}"
        )
    set_variant = overrides.pop("variant", None)  # a variant may also arrive through --set variant=...
    variant = variant or set_variant or default_variant(cls)
    if variant not in cls.variants:
        raise ValueError(f"{name}: unknown variant {variant!r}; valid variants: {', '.join(cls.variants)}")
    # The Config may derive defaults from the variant in __post_init__, so build it with the
    # variant first and then replace the explicit overrides.
    config = cls.Config(variant=variant)
    return dataclasses.replace(config, **overrides) if overrides else config


def build(
    name: str,
    spec: DataSpec,
    *,
    variant: str | None = None,
    seed: int = 0,
    device: str = "cpu",
    **overrides: Any,
) -> Family:
    """Build family ``name`` for data ``spec``: ``cls(Config(variant, **overrides), spec, seed, device)``."""
    cls = get(name)
    if spec.kind not in cls.data_kinds:
        raise ValueError(
            f"{name} does not support data kind {spec.kind!r}; it supports {', '.join(cls.data_kinds)}"
        )
    config = make_config(name, variant=variant, **overrides)
    return cls(config, spec, seed=seed, device=device)


def coerce_overrides(name: str, raw: dict[str, str]) -> dict[str, Any]:
    """Parse string values (``--set hidden=64``) into the types of the Config's fields.

    ValueError names the key and the expected type when a value does not parse.
    """
    cls = get(name)
    hints = typing.get_type_hints(cls.Config)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ValueError(
            f"{name}: unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(fields))}"
        )
    return {key: _parse(key, value, hints.get(key, str)) for key, value in raw.items()}


def _parse(key: str, value: str, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):  # Optional[X] / X | None
        if value.lower() in ("none", "null"):
            return None
        for arg in args:
            if arg is not type(None):
                try:
                    return _parse(key, value, arg)
                except ValueError:
                    continue
        raise ValueError(f"{key}: cannot parse {value!r} as {_type_name(tp)}")
    if origin is typing.Literal:
        if value not in [str(a) for a in args]:
            raise ValueError(f"{key}: {value!r} is not one of {', '.join(map(str, args))}")
        return next(a for a in args if str(a) == value)
    if origin is tuple:
        items = [v for v in value.strip("()[] ").split(",") if v.strip()]
        inner = args[0] if args else str
        return tuple(_parse(key, v.strip(), inner) for v in items)
    try:
        if tp is bool:
            low = value.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if tp in (int, float, str):
            return tp(value)
    except ValueError:
        raise ValueError(f"{key}: cannot parse {value!r} as {_type_name(tp)}") from None
    return value


def describe() -> list[dict[str, Any]]:
    """One dict per registered model for the CLI and the web recipes.

    Keys: name, target, available, and when available family, variants, default_variant,
    data_kinds, config (list of {name, default, type}); when not, error (why the import failed).
    """
    out: list[dict[str, Any]] = []
    for name in names():
        entry: dict[str, Any] = {"name": name, "target": _TARGETS[name]}
        try:
            cls = get(name)
        except (ImportError, AttributeError) as err:
            entry.update(available=False, error=f"{type(err).__name__}: {err}")
            out.append(entry)
            continue
        entry.update(
            available=True,
            family=cls.family,
            variants=list(cls.variants),
            default_variant=default_variant(cls),
            data_kinds=list(cls.data_kinds),
            config=config_fields(cls),
        )
        out.append(entry)
    return out
