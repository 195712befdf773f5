"""PET maximum-intensity projections with lesion outlines: the picture a PET reader looks at.

One renderer for every picture of a whole-body PET in anatloc: ``anatloc phantom show`` (a
phantom case) and ``anatloc predict --mip`` / ``anatloc demo`` (any PET, with the predicted
locations) both draw with it.

* :func:`project` turns a PET array and its affine into the coronal (anterior view: the
  maximum along the patient's antero-posterior axis) and sagittal (left view: the maximum
  along the left-right axis) projections.  The array is reoriented to the closest RAS
  orientation by flips and transposes of a view (no copy); an oblique image is projected
  along its closest axes.  Only the PET is projected — a 512×512×1000 CT never is.
* :func:`outline_mask` rasterizes a lesion (world points of its voxels, or an axis-aligned
  ellipsoid for a box) into a small 2-D mask in one view's world coordinates;
  :func:`draw_outline` draws the contour of that mask, its number and an optional label.
* :func:`draw_view` shows one projection the way a reading workstation does: inverted grey
  (white = no uptake, black = SUV ``vmax`` and above), head up, in physical proportions, the
  coronal view with the patient's right on the viewer's left (radiological convention), the
  sagittal view with anterior on the viewer's left.
* :func:`render_mips` lays out the coronal and sagittal views side by side with a legend
  (number, location, SUVmax, size) and writes a PNG of a known size (``height`` pixels high,
  its width following the body's proportions) atomically.

Only numpy and matplotlib (Agg, imported inside the functions) are needed.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: (horizontal world axis, vertical world axis, projected world axis) of each view
VIEW_AXES = {"coronal": (0, 2, 1), "sagittal": (1, 2, 0)}
#: the letters at the viewer's left and right edge of each view
VIEW_SIDES = {"coronal": ("R", "L"), "sagittal": ("A", "P")}
#: outline colours (tab10 without its grey), lesion i gets COLOURS[i % len]
COLOURS = (
    "#d62728",
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
)


@dataclass
class View:
    """One projection: ``image[h, v]`` over the world extent ``(h0, h1, v0, v1)`` (mm, pixel
    edges), h the view's horizontal world axis (x or y), v the vertical one (z)."""

    name: str
    image: np.ndarray
    extent: tuple[float, float, float, float]

    @property
    def width_mm(self) -> float:
        return abs(self.extent[1] - self.extent[0])

    @property
    def height_mm(self) -> float:
        return abs(self.extent[3] - self.extent[2])


def canonical(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``data`` reoriented to the closest RAS orientation (a view, no copy) and its affine."""
    import nibabel as nib

    ornt = nib.orientations.io_orientation(affine)
    out = nib.orientations.apply_orientation(data, ornt)
    aff = affine @ nib.orientations.inv_ornt_aff(ornt, data.shape)
    return out, aff


def _edges(n: int, step: float, origin: float) -> tuple[float, float]:
    return origin - step / 2.0, origin + (n - 0.5) * step


def project(
    data: np.ndarray, affine: np.ndarray, views: Sequence[str] = ("coronal", "sagittal")
) -> dict[str, View]:
    """The maximum-intensity projections of a 3-D image (any orientation) as :class:`View` s."""
    arr, aff = canonical(np.asarray(data), np.asarray(affine, dtype=np.float64))
    step = np.sqrt((aff[:3, :3] ** 2).sum(axis=0))
    out = {}
    for name in views:
        h, v, p = VIEW_AXES[name]
        img = np.asarray(arr.max(axis=p), dtype=np.float32)  # axes (h, v) in order
        h0, h1 = _edges(arr.shape[h], step[h], aff[h, 3])
        v0, v1 = _edges(arr.shape[v], step[v], aff[v, 3])
        out[name] = View(name, img, (h0, h1, v0, v1))
    return out


@dataclass
class Outline:
    """A lesion's projection in one view: ``mask[h, v]`` on pixel centres ``hs`` × ``vs``."""

    mask: np.ndarray
    hs: np.ndarray
    vs: np.ndarray


def outline_mask(
    view: str,
    *,
    points: np.ndarray | None = None,
    spacing: float = 2.0,
    ellipsoid: tuple[Sequence[float], Sequence[float]] | None = None,
) -> Outline | None:
    """Rasterize a lesion into a 2-D mask in ``view``'s world coordinates.

    ``points`` (N, 3) are world points (mm) of the lesion's voxel centres, ``spacing`` their
    grid's spacing (the pixel size; no gaps between neighbouring voxels); or ``ellipsoid`` =
    (centre, full size) of an axis-aligned box's inscribed ellipsoid (drawn exactly).
    """
    from scipy import ndimage

    h, v, _ = VIEW_AXES[view]
    if ellipsoid is not None:
        c = np.asarray(ellipsoid[0], dtype=np.float64)
        r = np.maximum(np.asarray(ellipsoid[1], dtype=np.float64) / 2.0, 1e-3)
        g = float(np.clip(min(r[h], r[v]) / 8.0, 0.25, 2.0))
        hs = np.arange(c[h] - r[h] - 2 * g, c[h] + r[h] + 2 * g + g / 2, g)
        vs = np.arange(c[v] - r[v] - 2 * g, c[v] + r[v] + 2 * g + g / 2, g)
        hh, vv = np.meshgrid((hs - c[h]) / r[h], (vs - c[v]) / r[v], indexing="ij")
        return Outline((hh**2 + vv**2 <= 1.0).astype(np.float32), hs, vs)
    if points is None or len(points) == 0:
        return None
    g = max(float(spacing), 0.5)
    ph, pv = points[:, h], points[:, v]
    h0, v0 = ph.min() - 2.5 * g, pv.min() - 2.5 * g
    ih = np.floor((ph - h0) / g).astype(np.int64)
    iv = np.floor((pv - v0) / g).astype(np.int64)
    mask = np.zeros((int(ih.max()) + 3, int(iv.max()) + 3), dtype=bool)
    mask[ih, iv] = True
    mask = ndimage.binary_closing(mask, iterations=1) | mask
    mask = ndimage.binary_fill_holes(mask)
    hs = h0 + (np.arange(mask.shape[0]) + 0.5) * g
    vs = v0 + (np.arange(mask.shape[1]) + 0.5) * g
    return Outline(mask.astype(np.float32), hs, vs)


def _halo(width: float = 2.5):
    import matplotlib.patheffects as pe

    return [pe.withStroke(linewidth=width, foreground="white")]


def draw_outline(
    ax,
    outline: Outline,
    number: str,
    label: str = "",
    *,
    colour: str = COLOURS[0],
    fontsize: float = 8.0,
    midline: float | None = None,
) -> None:
    """The contour of ``outline`` on ``ax`` and its number (and ``label``) above it, on the
    side away from ``midline`` (the view's horizontal centre, world mm) so that labels spread
    outwards instead of covering the body's middle."""
    if outline.mask.shape[0] < 2 or outline.mask.shape[1] < 2 or not outline.mask.any():
        return
    ax.contour(
        outline.hs, outline.vs, outline.mask.T, levels=[0.5], colors=[colour], linewidths=1.1
    )
    ih, iv = np.nonzero(outline.mask)
    top = outline.vs[iv.max()]
    lo, hi = outline.hs[ih.min()], outline.hs[ih.max()]
    # the axes are inverted: a larger world coordinate lies further to the viewer's left
    to_left = midline is None or (lo + hi) / 2.0 >= midline
    text = number if not label else f"{number} {label}"
    if not text:
        return
    ax.text(
        hi + 2.0 if to_left else lo - 2.0,
        top + 2.0,
        text,
        color=colour,
        fontsize=fontsize,
        fontweight="bold",
        ha="right" if to_left else "left",
        va="bottom",
        path_effects=_halo(),
    )


def draw_view(ax, view: View, *, vmax: float = 10.0, title: str | None = None) -> None:
    """``view`` in inverted grey (SUV 0 white … ``vmax`` black), head up, radiological
    left-right (coronal: patient's right on the viewer's left; sagittal: anterior left)."""
    h0, h1, v0, v1 = view.extent
    ax.imshow(
        view.image.T,
        cmap="gray_r",
        vmin=0.0,
        vmax=vmax,
        origin="lower",
        extent=(h0, h1, v0, v1),
        interpolation="bilinear",
        aspect="equal",
    )
    ax.set_xlim(max(h0, h1), min(h0, h1))  # larger world coordinate (R or A) on the left
    ax.set_ylim(min(v0, v1), max(v0, v1))
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)
    left, right = VIEW_SIDES.get(view.name, ("", ""))
    ax.text(0.02, 0.01, left, transform=ax.transAxes, fontsize=9, color="#444444")
    ax.text(0.98, 0.01, right, transform=ax.transAxes, fontsize=9, color="#444444", ha="right")
    if title:
        ax.set_title(title, fontsize=9)


@dataclass
class MipLesion:
    """A lesion to draw: its number, the location beside it, its legend line, its outlines."""

    number: str
    label: str = ""
    legend: str = ""
    outlines: dict[str, Outline | None] = field(default_factory=dict)


def _spread(wanted: list[float], sizes: list[float], lo: float, hi: float) -> list[float]:
    """Label centres near ``wanted`` (any order) so that labels of heights ``sizes`` do not
    overlap, within [lo, hi] where possible."""
    order = sorted(range(len(wanted)), key=lambda i: -wanted[i])
    ys = [0.0] * len(wanted)
    prev_y, prev_h = math.inf, 0.0
    for i in order:
        y = min(wanted[i], hi - sizes[i] / 2.0, prev_y - (prev_h + sizes[i]) / 2.0)
        ys[i], prev_y, prev_h = y, y, sizes[i]
    if order:
        last = order[-1]
        under = lo - (ys[last] - sizes[last] / 2.0)
        if under > 0:  # pushed below the panel: move the whole column up
            ys = [y + under for y in ys]
    return ys


def _wrap(text: str, width: int = 26) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_long_words=False)) or text


def label_lesions(
    ax, view: View, lesions: Sequence[MipLesion], colours: Sequence[str], fontsize: float = 8.0
) -> None:
    """Each lesion's number and location in the margins beside ``view`` with a leader line
    to its outline: lesions on the viewer's left half to the left margin, the others to the
    right, spread so that no two labels overlap."""
    h0, h1, v0, v1 = view.extent
    mid = (h0 + h1) / 2.0
    bbox = ax.get_window_extent()
    line = 1.3 * fontsize * abs(v1 - v0) / max(bbox.height, 1.0)  # one text line, mm
    sides: dict[bool, list[tuple[int, float, float, str]]] = {True: [], False: []}
    for k, les in enumerate(lesions):
        ol = les.outlines.get(view.name)
        if ol is None or not ol.mask.any():
            continue
        ih, iv = np.nonzero(ol.mask)
        hc = float(ol.hs[ih].mean())
        text = _wrap(f"{les.number} {les.label}")
        sides[hc >= mid].append((k, hc, float(ol.vs[iv.max()]), text))
    for left, items in sides.items():
        sizes = [line * (t.count("\n") + 1) + 0.4 * line for *_, t in items]
        ys = _spread([top for _, _, top, _ in items], sizes, min(v0, v1), max(v0, v1))
        for (k, hc, top, text), y in zip(items, ys, strict=True):
            ax.annotate(
                text,
                xy=(hc, top),
                xytext=(-0.02 if left else 1.02, y),
                textcoords=("axes fraction", "data"),
                ha="right" if left else "left",
                va="center",
                fontsize=fontsize,
                color=colours[k % len(colours)],
                fontweight="bold",
                annotation_clip=False,
                arrowprops={
                    "arrowstyle": "-",
                    "color": colours[k % len(colours)],
                    "lw": 0.7,
                    "shrinkA": 1,
                    "shrinkB": 1,
                },
            )


def figure_size(
    views: Sequence[View], height: int, gutter: int, legend_width: int
) -> tuple[int, int, list[int]]:
    """(width, height, panel widths) in pixels of :func:`render_mips`'s picture: the first
    view with a ``gutter`` on both sides for the labels, the others, the legend."""
    panel_h = height - _TOP - _BOTTOM
    widths = [max(60, round(panel_h * v.width_mm / max(v.height_mm, 1e-6))) for v in views]
    width = 2 * gutter + sum(w + 20 for w in widths) + 20 + legend_width
    return width, height, widths


_TOP, _BOTTOM = 80, 30


def render_mips(
    views: Sequence[View],
    lesions: Sequence[MipLesion],
    out: str | os.PathLike | None = None,
    *,
    title: str = "",
    vmax: float = 10.0,
    height: int = 1000,
    gutter: int = 210,
    legend_width: int = 420,
) -> tuple[bytes, tuple[int, int]]:
    """The views side by side — the first (coronal) with every lesion labelled with its
    location in the margins, the others with its number — and a legend; returns (PNG bytes,
    (width, height)) and writes them to ``out`` atomically when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi = 100
    if not lesions:
        gutter = legend_width = 0
    width, height, widths = figure_size(views, height, gutter, legend_width)
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
    try:
        panel_h = height - _TOP - _BOTTOM
        x = 10 + gutter
        for i, (view, w) in enumerate(zip(views, widths, strict=True)):
            ax = fig.add_axes((x / width, _BOTTOM / height, w / width, panel_h / height))
            x += w + (gutter if i == 0 else 0) + 20
            draw_view(ax, view, vmax=vmax, title=f"{view.name} MIP")
            for k, les in enumerate(lesions):
                ol = les.outlines.get(view.name)
                if ol is not None:
                    draw_outline(
                        ax,
                        ol,
                        "" if i == 0 else les.number,
                        colour=COLOURS[k % len(COLOURS)],
                        midline=(view.extent[0] + view.extent[1]) / 2.0,
                    )
            if i == 0 and lesions:
                label_lesions(ax, view, lesions, COLOURS)
        if title:
            fig.text(0.5, 1 - 12 / height, title, ha="center", va="top", fontsize=12)
        if lesions:
            lx = (x - 5) / width
            fig.text(lx, 1 - _TOP / height, "lesions", fontsize=10, fontweight="bold", va="top")
            shown = list(lesions)[:40]
            step = min(22.0, (panel_h - 30) / max(len(shown), 1))
            fs = 8.5 if step >= 16 else 7.0
            for k, les in enumerate(shown):
                y = 1 - (_TOP + 25 + k * step) / height
                fig.text(
                    lx,
                    y,
                    les.number,
                    color=COLOURS[k % len(COLOURS)],
                    fontsize=fs,
                    fontweight="bold",
                    va="top",
                )
                fig.text(lx + 28 / width, y, les.legend or les.label, fontsize=fs, va="top")
            if len(lesions) > len(shown):
                y = 1 - (_TOP + 25 + len(shown) * step) / height
                fig.text(lx, y, f"… and {len(lesions) - len(shown)} more", fontsize=fs, va="top")
        fig.text(
            0.01,
            0.008,
            f"PET maximum-intensity projections, inverted grey, SUV 0-{vmax:g}",
            fontsize=7,
            color="#666666",
        )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        plt.close(fig)
    data = buf.getvalue()
    if out is not None:
        from anatloc.ontology.fileio import atomic_write

        atomic_write(Path(out), data)
    return data, (width, height)
