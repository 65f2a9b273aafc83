"""Merging a mapping update into a mapping, by Elasticsearch's rules.

New fields are added; a field's type never changes ("mapper [x] cannot be changed from
type [long] to [text]"); of its parameters only the updatable ones may change, and any
other difference is listed ("Mapper for [x] conflicts with existing mapper: ...").
Multi-fields are merged one by one and are never removed by an update that leaves them
out; `copy_to` and the updatable parameters take the update's values. Objects take the
`dynamic` an update sets and keep theirs otherwise; `enabled` cannot change. The root
takes the update's detection settings, date formats and `_meta` when it sets them.
"""

from __future__ import annotations

from ...common.errors import IllegalArgument, StrataError
from .mappers import FieldMapper, ObjectMapper, RootMapper


class MapperError(StrataError):
    """Elasticsearch's MapperException. Elasticsearch answers it with 500; Strata says
    400, as it is the request that cannot be applied."""

    type = "mapper_exception"
    status = 400


def merge_root(current: RootMapper, update: RootMapper) -> RootMapper:
    _check_enabled(current, update)
    if update.routing_required is not None and update.routing_required != bool(current.routing_required):
        old, new = str(bool(current.routing_required)).lower(), str(update.routing_required).lower()
        raise IllegalArgument("Mapper for [_routing] conflicts with existing mapper:\n\tCannot update "
                              f"parameter [required] from [{old}] to [{new}]")
    if update.source_enabled is not None and update.source_enabled != (current.source_enabled is not False):
        old, new = str(current.source_enabled is not False).lower(), str(update.source_enabled).lower()
        raise IllegalArgument("Mapper for [_source] conflicts with existing mapper:\n\tCannot update "
                              f"parameter [enabled] from [{old}] to [{new}]")

    def pick(new, old):
        return new if new is not None else old

    return RootMapper(
        merge_children(current.children, update.children),
        pick(update.dynamic, current.dynamic), current.enabled,
        date_detection=pick(update.date_detection, current.date_detection),
        numeric_detection=pick(update.numeric_detection, current.numeric_detection),
        dynamic_date_formats=pick(update.dynamic_date_formats, current.dynamic_date_formats),
        meta=pick(update.meta, current.meta),
        routing_required=pick(update.routing_required, current.routing_required),
        source_enabled=pick(update.source_enabled, current.source_enabled))


def merge_children(current: dict[str, FieldMapper | ObjectMapper],
                   update: dict[str, FieldMapper | ObjectMapper]) -> dict[str, FieldMapper | ObjectMapper]:
    merged = dict(current)
    for name, new in update.items():
        old = merged.get(name)
        if old is None:
            merged[name] = new
        elif isinstance(old, ObjectMapper) and isinstance(new, ObjectMapper):
            merged[name] = merge_object(old, new)
        elif isinstance(old, ObjectMapper) or isinstance(new, ObjectMapper):
            raise IllegalArgument(f"can't merge a non object mapping [{old.path}] with an object mapping")
        else:
            merged[name] = merge_field(old, new)
    return merged


def _check_enabled(current: ObjectMapper, update: ObjectMapper) -> None:
    if update.enabled is not None and update.enabled != current.is_enabled:
        raise MapperError(f"the [enabled] parameter can't be updated for the object mapping "
                          f"[{current.path or '_doc'}]")


def merge_object(current: ObjectMapper, update: ObjectMapper) -> ObjectMapper:
    _check_enabled(current, update)
    return ObjectMapper(current.name, current.path, merge_children(current.children, update.children),
                        update.dynamic if update.dynamic is not None else current.dynamic, current.enabled)


def merge_field(current: FieldMapper, update: FieldMapper) -> FieldMapper:
    if current.type_name != update.type_name:
        raise IllegalArgument(f"mapper [{current.path}] cannot be changed from type [{current.type_name}] to "
                              f"[{update.type_name}]")
    conflicts = []
    params = {}
    for name, param in current.type.params.items():
        old, new = current.get(name), update.get(name)
        settable = param.set_once and (old is None or new is None)
        if old == new or settable or (param.updatable and (name != "norms" or not new)):
            if name in update.params:
                params[name] = update.params[name]
            elif name in current.params and not param.updatable:
                params[name] = current.params[name]
        else:
            conflicts.append(f"Cannot update parameter [{name}] from [{param.show(old)}] to "
                             f"[{param.show(new)}]")
    if conflicts:
        raise IllegalArgument(f"Mapper for [{current.path}] conflicts with existing mapper:\n\t"
                              + "\n\t".join(conflicts))
    fields = dict(current.fields)
    for name, sub in update.fields.items():
        fields[name] = merge_field(fields[name], sub) if name in fields else sub
    return FieldMapper(current.name, current.path, current.type_name, params, fields, update.copy_to)
