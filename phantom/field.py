"""A subject pre-rendered on a coarse world grid, for fast patches.

Evaluating the atlas at every voxel of every patch is exact but costs about as much as the
atlas engine takes for 32³ points (hundreds of milliseconds with the full ontology).  A
:class:`SubjectField` renders one scene *without lesions and without the scanner* once, on an
axis-aligned grid over the whole body (default 3 mm): the label map, HU and SUV (tissue
values, textures, rims and cores).  Patches are then cut from it by nearest-neighbour lookup
(``render_patch(..., field=field)``), and lesions, the mass effect, anti-aliasing, the
scanner blur and the noise are added per patch exactly as in the exact path.  Labels of a
field patch are those of the nearest field voxel: equal to the exact labels except within
about half a field voxel of a boundary.  The training stream uses fields; tests of the
volume/patch agreement use the exact path.
"""

from __future__ import annotations

import numpy as np

from .render import Grid, Scene, body_extent, rasterize, shade_grid


class SubjectField:
    """Labels, HU and SUV of a lesion-free scene on a world-aligned grid."""

    def __init__(self, scene: Scene, spacing: float = 3.0, margin_mm: float = 24.0):
        self.scene = scene.with_lesions(())
        self.spacing = float(spacing)
        atlas = scene.atlas
        lo, hi = body_extent(atlas, scene.subject, cap_vertex=False)
        lo, hi = lo - margin_mm, hi + margin_mm
        sp = np.full(3, self.spacing)
        shape = tuple(int(v) for v in np.ceil((hi - lo) / sp).astype(int) + 1)
        aff = np.eye(4)
        aff[:3, :3] = np.diag(sp)
        aff[:3, 3] = lo
        self.grid = Grid(shape, aff)
        self.labels = rasterize(atlas, self.grid, scene.subject)
        hu, suv = shade_grid(self.scene, self.grid, self.labels)
        self.hu = hu.astype(np.float16)
        self.suv = suv.astype(np.float16)
        del hu, suv
        flat = self.labels.ravel()
        self._order = np.argsort(flat, kind="stable").astype(np.int32)
        self._starts = np.searchsorted(flat[self._order], np.arange(scene.model.n + 2))

    @property
    def nbytes(self) -> int:
        return self.labels.nbytes + self.hu.nbytes + self.suv.nbytes + self._order.nbytes

    def _index(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = self.grid
        ijk = np.rint((np.asarray(points, float).reshape(-1, 3) - g.origin) / self.spacing).astype(
            np.int64
        )
        ok = np.all((ijk >= 0) & (ijk < np.asarray(g.shape)), axis=1)
        flat = np.zeros(len(ijk), np.int64)
        i = ijk[ok]
        flat[ok] = (i[:, 0] * g.shape[1] + i[:, 1]) * g.shape[2] + i[:, 2]
        return flat, ok

    def lookup(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labels int32, HU float32, SUV float32) of the nearest field voxel; outside the
        field: background (air)."""
        flat, ok = self._index(points)
        lab = np.where(ok, self.labels.ravel()[flat], 0).astype(np.int32)
        hu = np.where(ok, self.hu.ravel()[flat], np.float16(-1000)).astype(np.float32)
        suv = np.where(ok, self.suv.ravel()[flat], np.float16(0)).astype(np.float32)
        return lab, hu, suv

    def lookup_grid(self, affine: np.ndarray, shape, what=("labels", "hu", "suv")) -> dict:
        """Nearest field values at the voxel centres of a (rotated) grid given by its
        voxel -> world ``affine``; flat arrays in C order."""
        g = self.grid
        m = (affine[:3, :3] / self.spacing).astype(np.float32)
        v0 = ((affine[:3, 3] - g.origin) / self.spacing).astype(np.float32)
        n0, n1, n2 = (int(v) for v in shape)
        i = np.arange(n0, dtype=np.float32)[:, None, None]
        j = np.arange(n1, dtype=np.float32)[None, :, None]
        k = np.arange(n2, dtype=np.float32)[None, None, :]
        flat = None
        ok = None
        for ax in range(3):  # one component at a time: no reductions over a short axis
            c = np.rint((i * m[ax, 0] + v0[ax]) + j * m[ax, 1] + k * m[ax, 2]).astype(np.int64)
            inside = (c >= 0) & (c < g.shape[ax])
            ok = inside if ok is None else ok & inside
            flat = c if flat is None else flat * g.shape[ax] + c
        flat = np.where(ok, flat, 0).ravel()
        ok = ok.ravel()
        out = {}
        if "labels" in what:
            out["labels"] = np.where(ok, np.take(self.labels.ravel(), flat), 0).astype(np.int32)
        if "hu" in what:
            out["hu"] = np.where(
                ok, np.take(self.hu.ravel(), flat).astype(np.float32), np.float32(-1000)
            )
        if "suv" in what:
            out["suv"] = np.where(
                ok, np.take(self.suv.ravel(), flat).astype(np.float32), np.float32(0)
            )
        return out

    def labels_at(self, points: np.ndarray) -> np.ndarray:
        flat, ok = self._index(points)
        return np.where(ok, self.labels.ravel()[flat], 0).astype(np.int32)

    def count(self, index: int) -> int:
        return int(self._starts[index + 1] - self._starts[index])

    def present(self) -> np.ndarray:
        """Label indices (1..n) with at least one voxel in the field."""
        counts = np.diff(self._starts)
        return np.flatnonzero(counts[1:]) + 1

    def random_points(self, index: int, rng: np.random.Generator, n: int = 1) -> np.ndarray:
        """``n`` random world points of location ``index`` (voxel centres jittered within
        their voxel), shape (n, 3); empty when the location has no voxel."""
        a, b = int(self._starts[index]), int(self._starts[index + 1])
        if b <= a:
            return np.zeros((0, 3))
        pick = self._order[rng.integers(a, b, n)]
        ijk = np.stack(np.unravel_index(pick, self.grid.shape), 1).astype(float)
        jitter = rng.uniform(-0.45, 0.45, (n, 3))
        return (ijk + jitter) * self.spacing + self.grid.origin


def supersample_offsets(k: int) -> np.ndarray:
    """Sub-sample offsets within a voxel, in voxels (the mean is the voxel centre)."""
    return (np.arange(k) + 0.5) / k - 0.5
