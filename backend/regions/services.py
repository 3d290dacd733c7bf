"""Reading the region tree."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from backend.extensions import db
from backend.regions.models import Region, RegionLevel


@dataclass
class RegionNode:
    """A region with its children, for the public tree."""

    id: int
    name: str
    level: RegionLevel
    parent_id: int | None
    children: list[RegionNode] = field(default_factory=list)


def region_tree() -> list[RegionNode]:
    """Every region as a forest of roots, siblings in their order, in one query."""
    regions = db.session.scalars(
        sa.select(Region).order_by(Region.sort_order, Region.name, Region.id)
    ).all()
    nodes = {r.id: RegionNode(r.id, r.name, r.level, r.parent_id) for r in regions}
    roots: list[RegionNode] = []
    for region in regions:
        node = nodes[region.id]
        if region.parent_id is None:
            roots.append(node)
        else:
            nodes[region.parent_id].children.append(node)
    return roots


def in_subtree(region: Region) -> sa.ColumnElement[bool]:
    """A condition on `Region` selecting `region` and everything below it."""
    return Region.path.startswith(region.path, autoescape=True)


def add_region(name: str, level: RegionLevel, parent: Region | None, sort_order: int = 0) -> Region:
    """Create a region under `parent` and give it its path (flushes to learn the id)."""
    region = Region(name=name, level=level, parent=parent, sort_order=sort_order, path="")
    db.session.add(region)
    db.session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    db.session.flush()
    return region
