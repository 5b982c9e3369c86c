"""Map clusters: the items of a viewport grouped on a Web Mercator grid whose cells follow the zoom.

At zoom z the world is 256 * 2**z pixels wide (the tile convention of web maps); a cell is 64 pixels, so
``4 * 2**z`` cells per side. The grid is anchored to the world, not to the viewport, and the viewport is
widened to whole cells: a cell's cluster is always complete, and panning never changes a count. One SQL
GROUP BY does the grouping; a cluster's position is the mean of its items' positions (a cell never
straddles the antimeridian, so the mean of longitudes is meaningful).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from psycopg import sql
from pydantic import BaseModel, Field

from api.filters import Binder, Box, FilterSql, box_condition, execute, invalid
from core.db import Connection

TILE_PIXELS = 256
CELL_PIXELS = 64
MAX_CELLS = 65536  # a 16000 px square viewport; more is a client asking for the world at street level
MERCATOR_MAX_LAT = 85.0511287798  # the latitude where Web Mercator's square world ends
WORLD = Box(west=None, south=-90.0, east=None, north=90.0)


class Cluster(BaseModel):
    lat: float = Field(description="mean latitude of the items")
    lon: float = Field(description="mean longitude of the items")
    count: int
    bbox: tuple[float, float, float, float] = Field(description="[west, south, east, north] of the items")
    media_id: int | None = Field(description="the item, when the cluster holds one")
    position_source: Literal["exif", "manual"] | None = Field(description="when the cluster holds one item")


class MapClusters(BaseModel):
    clusters: list[Cluster]
    total: int = Field(description="items placed in the (cell-widened) view")


def cells_per_side(zoom: int) -> int:
    return (TILE_PIXELS // CELL_PIXELS) << zoom


def _cell_x(lon: float, cells: int) -> int:
    return min(cells - 1, max(0, math.floor((lon + 180) / 360 * cells)))


def _cell_y(lat: float, cells: int) -> int:
    lat = max(-MERCATOR_MAX_LAT, min(MERCATOR_MAX_LAT, lat))
    y = 0.5 - math.asinh(math.tan(math.radians(lat))) / (2 * math.pi)
    return min(cells - 1, max(0, math.floor(y * cells)))


def _lat_of(y: float) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y))))


@dataclass(frozen=True)
class GridView:
    """A viewport widened to whole cells of the grid."""

    box: Box
    cells: int  # cells in the view


def snap(view: Box, zoom: int) -> GridView:
    """``view`` widened to the edges of the cells it touches; the poles join the edge rows."""
    n = cells_per_side(zoom)
    top, bottom = _cell_y(view.north, n), _cell_y(view.south, n)
    north = 90.0 if top == 0 else _lat_of(top / n)
    south = -90.0 if bottom == n - 1 else _lat_of((bottom + 1) / n)
    rows = bottom - top + 1
    if view.west is None or view.east is None:
        return GridView(Box(None, south, None, north), rows * n)
    first, last = _cell_x(view.west, n), _cell_x(view.east, n)
    columns = (last - first) % n + 1
    if view.crosses_antimeridian and first <= last:
        columns = n  # the view wraps all the way round
    if columns >= n:
        return GridView(Box(None, south, None, north), rows * n)
    west, east = first / n * 360 - 180, (last + 1) / n * 360 - 180
    return GridView(Box(west, south, east, north), rows * columns)


# The cell of an item, as _cell_x and _cell_y compute it.
_CELL = sql.SQL(
    """LEAST({n} - 1, floor((m.effective_lon + 180) / 360 * {n})),
       LEAST({n} - 1, GREATEST(0, floor((0.5 - asinh(tan(radians(
           LEAST({max_lat}, GREATEST(-{max_lat}, m.effective_lat))))) / (2 * pi())) * {n})))"""
)


def clusters(conn: Connection, where: FilterSql, view: Box, zoom: int) -> MapClusters:
    grid = snap(view, zoom)
    if grid.cells > MAX_CELLS:
        raise invalid("view", f"{grid.cells} grid cells at zoom {zoom}, at most {MAX_CELLS}: "
                              "give the map's viewport (west,south,east,north)")
    bind = Binder(prefix="v")
    query = sql.SQL(
        """
        SELECT count(*) AS count, avg(m.effective_lat) AS lat, avg(m.effective_lon) AS lon,
               min(m.effective_lon) AS west, min(m.effective_lat) AS south,
               max(m.effective_lon) AS east, max(m.effective_lat) AS north,
               min(m.id) AS media_id, bool_or(m.manual_lat IS NOT NULL) AS manual
          FROM media m
         WHERE {condition} AND m.effective_lat IS NOT NULL AND {view}
         GROUP BY {cell}
         ORDER BY count DESC, lat, lon
        """
    ).format(condition=where.condition,
             view=box_condition(grid.box, bind),
             cell=_CELL.format(n=bind(cells_per_side(zoom)), max_lat=sql.Literal(MERCATOR_MAX_LAT)))
    found = [_cluster(row) for row in execute(conn, query, {**where.params, **bind.params})]
    return MapClusters(clusters=found, total=sum(c.count for c in found))


def _cluster(row: dict[str, Any]) -> Cluster:
    single = row["count"] == 1
    source: Literal["exif", "manual"] = "manual" if row["manual"] else "exif"
    return Cluster(lat=row["lat"], lon=row["lon"], count=row["count"],
                   bbox=(row["west"], row["south"], row["east"], row["north"]),
                   media_id=row["media_id"] if single else None, position_source=source if single else None)
