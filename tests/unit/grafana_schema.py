"""A strict check of a Grafana dashboard JSON against Grafana's dashboard schema.

The schema comes from grafana-foundation-sdk: Python models that Grafana Labs generate (with cog)
from Grafana's own schema (the dashboard kind, each core panel's options and field config, each
datasource's query), pinned to the Grafana version of the compose file. Its ``from_json`` only
decodes: it copies values without checking their types and silently drops fields it does not
know. So this module adds the two checks that make it a validator:

- every field must be one the schema knows: the document is decoded, encoded back with the SDK's
  own encoder, and every field of the original must come back (a dropped field is unknown);
- every value must have the type the schema gives it: the decoded models are walked with their
  generated type hints (str, int, float, bool, lists, maps, nested models, enums and literal
  values), decoding the parts the SDK leaves as raw JSON (panel links, transformations) with
  their own models.

A panel's options and its field config's ``custom`` block are checked against that panel
plugin's schema (timeseries, stat, ...), and each target against its datasource's query schema:
a target whose datasource type is unknown (neither the panel nor the target names one) is
refused, since nothing could check it and Grafana could not route it.

Not checked (limits of the generated models): whether a required field is present (the models
give required fields a default), string formats and numeric ranges (e.g. a uid's length), and
panel types without a schema in the SDK (their options are free-form there).
"""

from __future__ import annotations

import enum
import json
import types
import typing
from functools import cache
from typing import Any

from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.cog.runtime import UnknownDataquery
from grafana_foundation_sdk.models.dashboard import Dashboard

_ANY = (Any, object)


@cache
def _registered() -> bool:
    register_default_plugins()  # panel options, field config and query models by plugin id
    return True


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_model(value: Any) -> bool:
    return callable(getattr(value, "to_json", None)) and hasattr(type(value), "from_json")


def _encode(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=JSONEncoder))


def check_dashboard(doc: Any) -> list[str]:
    """Every way ``doc`` breaks Grafana's dashboard schema, one line each (empty: it conforms)."""
    _registered()
    if not isinstance(doc, dict):
        return [f"$: a dashboard is a JSON object, not {type(doc).__name__}"]
    try:
        model = Dashboard.from_json(doc)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        return [f"$: does not decode as a dashboard: {type(exc).__name__}: {exc}"]
    problems: list[str] = []
    _unknown_fields(doc, _encode(model), "$", problems)
    _check_model(model, "$", problems)
    return problems


def _unknown_fields(original: Any, encoded: Any, path: str, problems: list[str]) -> None:
    """Fields of ``original`` that did not survive decoding and encoding back: the schema lacks them."""
    if isinstance(original, dict) and isinstance(encoded, dict):
        for key, value in original.items():
            if key not in encoded:
                problems.append(f"{path}.{key}: unknown field (not in Grafana's schema here)")
            else:
                _unknown_fields(value, encoded[key], f"{path}.{key}", problems)
    elif isinstance(original, list) and isinstance(encoded, list) and len(original) == len(encoded):
        for i, (item, back) in enumerate(zip(original, encoded, strict=True)):
            _unknown_fields(item, back, f"{path}[{i}]", problems)
    # anything else is compared by type in _check_model


def _check_model(obj: Any, path: str, problems: list[str]) -> None:
    if isinstance(obj, UnknownDataquery):
        problems.append(f"{path}: a query of unknown datasource type (neither the panel nor the target names "
                        "a datasource type Grafana's schema knows), so it cannot be checked or routed")
        return
    for name, hint in _hints(type(obj)).items():
        _check_value(getattr(obj, name, None), hint, f"{path}.{name}", problems)


def _check_value(value: Any, hint: Any, path: str, problems: list[str]) -> None:
    problems.extend(_mismatch(value, hint, path))


def _mismatch(value: Any, hint: Any, path: str) -> list[str]:
    """Why ``value`` does not fit ``hint`` (empty: it fits; nested models are checked too)."""
    if isinstance(hint, str):  # an unresolved forward reference cannot be checked: say so
        return [f"{path}: the schema's type {hint!r} could not be resolved"]
    if hint in _ANY:
        if _is_model(value):
            problems: list[str] = []
            _check_model(value, path, problems)
            return problems
        return []
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return []
        arms = [arm for arm in args if arm is not type(None)]
        own = [arm for arm in arms if isinstance(arm, type) and type(value) is arm]
        if own:  # a decoded model (e.g. a Panel among Panel | RowPanel): check it as what it is
            return _mismatch(value, own[0], path)
        attempts = [_mismatch(value, arm, path) for arm in arms]
        if any(not a for a in attempts):
            return []
        return min(attempts, key=len) if len(attempts) == 1 else [
            f"{path}: {_show(value)} fits none of {_type_name(hint)}"]
    if origin is typing.Literal:
        return [] if any(value == a and type(value) is type(a) for a in args) else [
            f"{path}: {_show(value)} is not one of {list(args)}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {_show(value)}"]
        return [p for i, item in enumerate(value) for p in _mismatch(item, args[0] if args else Any, f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {_show(value)}"]
        return [p for k, item in value.items() for p in _mismatch(item, args[1] if args else Any, f"{path}.{k}")]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = [m.value for m in hint]
        ok = any(value == a and isinstance(value, type(a)) and not isinstance(value, bool) for a in allowed)
        return [] if ok else [f"{path}: {_show(value)} is not one of {allowed}"]
    if hint is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {_show(value)}"]
    if hint is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [
            f"{path}: expected an integer, got {_show(value)}"]
    if hint is float:
        return [] if isinstance(value, int | float) and not isinstance(value, bool) else [
            f"{path}: expected a number, got {_show(value)}"]
    if hint is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {_show(value)}"]
    if hint is cogvariants.Dataquery:
        if not isinstance(value, cogvariants.Dataquery):
            return [f"{path}: expected a query, got {_show(value)}"]
        problems = []
        _check_model(value, path, problems)
        return problems
    if isinstance(hint, type) and hasattr(hint, "from_json"):
        if isinstance(value, dict):  # a part the SDK leaves as raw JSON: decode it with its own model
            try:
                decoded = hint.from_json(value)
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                return [f"{path}: does not decode as {hint.__name__}: {type(exc).__name__}: {exc}"]
            problems = []
            _unknown_fields(value, _encode(decoded), path, problems)
            _check_model(decoded, path, problems)
            return problems
        if not isinstance(value, hint):
            return [f"{path}: expected {hint.__name__}, got {_show(value)}"]
        problems = []
        _check_model(value, path, problems)
        return problems
    return [f"{path}: the schema's type {_type_name(hint)} is not understood by this checker"]


def _show(value: Any) -> str:
    text = json.dumps(value, cls=JSONEncoder) if not isinstance(value, str) else repr(value)
    return (text[:60] + "...") if len(text) > 60 else text


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
