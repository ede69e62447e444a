"""The carried objects: a box, a table and a stretcher, built from solid boxes.

Each object is a rigid body made of box-shaped parts. Its centre of mass and inertia follow
from the parts (parallel-axis theorem), so each kind has its own size, mass and inertia. It
has two handles, one at each end of its long (x) axis; a carrier grips a handle with two
hands ``grip_half_width`` either side of the long axis, which lets the grip hold the
object's roll while leaving pitch free.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OBJECTS", "ObjectSpec", "Part"]


@dataclass(frozen=True)
class Part:
    """A solid box of an object, placed in the object's design frame."""

    half_extents: tuple[float, float, float]
    centre: tuple[float, float, float]
    mass: float
    rgba: tuple[float, float, float, float]


@dataclass(frozen=True)
class ObjectSpec:
    """A carried object.

    Attributes:
        name: The value of the task's ``object`` knob.
        parts: Solid boxes in the design frame (x along the carrying axis).
        handle_x: Distance along x from the centre of mass to each handle, m.
        handle_z: Height of the handles above the centre of mass, m.
        grip_half_width: Lateral offset of each hand on a handle, m.
    """

    name: str
    parts: tuple[Part, ...]
    handle_x: float
    handle_z: float
    grip_half_width: float

    @property
    def mass(self) -> float:
        """Total mass at ``mass_scale`` 1, kg."""
        return sum(p.mass for p in self.parts)

    @property
    def centre_of_mass(self) -> tuple[float, float, float]:
        """Centre of mass in the design frame."""
        m = self.mass
        return tuple(sum(p.mass * p.centre[i] for p in self.parts) / m for i in range(3))  # type: ignore[return-value]

    @property
    def inertia(self) -> tuple[float, float, float]:
        """Principal moments of inertia about the centre of mass, kg m^2 (axes x, y, z)."""
        com = self.centre_of_mass
        moments = [0.0, 0.0, 0.0]
        for p in self.parts:
            sx, sy, sz = (2 * h for h in p.half_extents)
            own = (
                p.mass * (sy * sy + sz * sz) / 12,
                p.mass * (sx * sx + sz * sz) / 12,
                p.mass * (sx * sx + sy * sy) / 12,
            )
            d = [p.centre[i] - com[i] for i in range(3)]
            shift = (d[1] ** 2 + d[2] ** 2, d[0] ** 2 + d[2] ** 2, d[0] ** 2 + d[1] ** 2)
            for i in range(3):
                moments[i] += own[i] + p.mass * shift[i]
        return tuple(moments)  # type: ignore[return-value]

    @property
    def lowest_point(self) -> float:
        """Depth of the object's lowest point below the centre of mass, m (positive)."""
        com_z = self.centre_of_mass[2]
        return max(com_z - (p.centre[2] - p.half_extents[2]) for p in self.parts)


_WOOD = (0.62, 0.45, 0.28, 1.0)
_CARD = (0.78, 0.62, 0.40, 1.0)
_METAL = (0.55, 0.57, 0.60, 1.0)
_CLOTH = (0.20, 0.45, 0.30, 1.0)
_LOAD = (0.85, 0.75, 0.65, 1.0)


def _table() -> tuple[Part, ...]:
    top = Part((0.70, 0.40, 0.02), (0.0, 0.0, 0.0), 10.0, _WOOD)
    legs = tuple(
        Part((0.025, 0.025, 0.33), (sx * 0.64, sy * 0.34, -0.35), 1.25, _WOOD)
        for sx in (-1, 1)
        for sy in (-1, 1)
    )
    return (top, *legs)


def _stretcher() -> tuple[Part, ...]:
    poles = tuple(Part((1.15, 0.02, 0.02), (0.0, sy * 0.30, 0.0), 1.5, _METAL) for sy in (-1, 1))
    bed = Part((0.95, 0.28, 0.015), (0.0, 0.0, -0.01), 5.0, _CLOTH)
    load = Part((0.85, 0.20, 0.12), (0.0, 0.0, 0.12), 15.0, _LOAD)
    return (*poles, bed, load)


def _spec(
    name: str,
    parts: tuple[Part, ...],
    handle_x: float,
    handle_height: float,
    grip_half_width: float,
) -> ObjectSpec:
    """Build a spec whose handle height is given in the design frame."""
    draft = ObjectSpec(name, parts, handle_x, 0.0, grip_half_width)
    com = draft.centre_of_mass
    shifted = tuple(
        Part(p.half_extents, tuple(p.centre[i] - com[i] for i in range(3)), p.mass, p.rgba)  # type: ignore[arg-type]
        for p in parts
    )
    return ObjectSpec(name, shifted, handle_x - com[0], handle_height - com[2], grip_half_width)


OBJECTS: dict[str, ObjectSpec] = {
    "box": _spec(
        "box", (Part((0.40, 0.25, 0.20), (0.0, 0.0, 0.0), 10.0, _CARD),), 0.45, 0.10, 0.12
    ),
    "table": _spec("table", _table(), 0.74, 0.0, 0.30),
    "stretcher": _spec("stretcher", _stretcher(), 1.15, 0.0, 0.30),
}
