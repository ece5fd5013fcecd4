"""Item layouts (Darwin v1, v2, v3)."""

from __future__ import annotations

from typing import Any

from moorage.registration.model import Blocked

_V1_TYPES = ("simple", "grid", "horizontal", "vertical")
MAX_SLOTS = 16


def default_layout(slot_names: list[str]) -> dict[str, Any]:
    if len(slot_names) <= 1:
        return {"version": 1, "type": "simple", "slots": slot_names}
    return {"version": 1, "type": "grid", "slots": slot_names}


def _invalid(message: str) -> Blocked:
    return Blocked("INVALID_LAYOUT", message, field="layout")


def validate_layout(layout: Any, slot_names: list[str]) -> dict[str, Any]:
    if not isinstance(layout, dict):
        raise _invalid("layout must be an object.")
    version = layout.get("version")
    known = set(slot_names)
    if version in (1, 2):
        slots = layout.get("slots")
        if layout.get("type") not in _V1_TYPES:
            raise _invalid(f"layout.type must be one of {', '.join(_V1_TYPES)}.")
        if not isinstance(slots, list) or not all(isinstance(s, str) for s in slots):
            raise _invalid("layout.slots must be a list of slot names.")
        unknown = [s for s in slots if s not in known]
        if unknown:
            raise _invalid(f"layout.slots names slots the item does not have: {unknown}.")
        if version == 2:
            shape = layout.get("layout_shape")
            if shape is not None and not (
                isinstance(shape, list)
                and len(shape) == 2
                and all(isinstance(n, int) and n > 0 for n in shape)
            ):
                raise _invalid("layout.layout_shape must be [columns, rows].")
        return layout
    if version == 3:
        grid = layout.get("slots_grid")
        if not isinstance(grid, list):
            raise _invalid("layout.slots_grid must be a nested list of slot names.")
        named: list[str] = []
        for row in grid:
            if not isinstance(row, list):
                raise _invalid("layout.slots_grid rows must be lists.")
            for cell in row:
                if not isinstance(cell, list) or not all(isinstance(s, str) for s in cell):
                    raise _invalid("layout.slots_grid cells must be lists of slot names.")
                named.extend(cell)
        unknown = [s for s in named if s not in known]
        if unknown:
            raise _invalid(f"layout.slots_grid names slots the item does not have: {unknown}.")
        if len(set(named)) > MAX_SLOTS:
            raise _invalid(f"A v3 layout holds at most {MAX_SLOTS} slots.")
        return layout
    raise _invalid("layout.version must be 1, 2 or 3.")
