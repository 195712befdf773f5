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


#: a lesion whose outline spans fewer pixels than this gets a ring of this diameter around it
MIN_MARKER_PX = 16.0


def marker_px(ax, outline: Outline) -> float:
    """The larger side, in pixels of the figure, of ``outline``'s box as drawn on ``ax``."""
    ih, iv = np.nonzero(outline.mask)
    if not len(ih):
        return 0.0
    g = np.diff(outline.hs[:2]).mean() if len(outline.hs) > 1 else 1.0
    corners = ax.transData.transform(
        [
            [outline.hs[ih.min()] - g / 2, outline.vs[iv.min()] - g / 2],
            [outline.hs[ih.max()] + g / 2, outline.vs[iv.max()] + g / 2],
        ]
    )
    return float(np.abs(corners[1] - corners[0]).max())


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
    if marker_px(ax, outline) < MIN_MARKER_PX:  # a pixel or two: ring it so that it shows
        ax.plot(
            [float(outline.hs[ih].mean())],
            [float(outline.vs[iv].mean())],
            marker="o",
            markersize=MIN_MARKER_PX * 0.72,  # points at 100 dpi
            markerfacecolor="none",
            markeredgecolor=colour,
            markeredgewidth=1.3,
            linestyle="none",
        )
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


def _seg_clearance(p: np.ndarray, q: np.ndarray, c: np.ndarray) -> float:
    """The distance from point ``c`` to the segment ``p``–``q``."""
    d = q - p
    t = float(np.clip(np.dot(c - p, d) / max(float(np.dot(d, d)), 1e-9), 0.0, 1.0))
    return float(np.linalg.norm(p + t * d - c))


def _anchor(
    label_at: np.ndarray, candidates: list[np.ndarray], others: list[tuple[np.ndarray, float]]
) -> np.ndarray:
    """The point of ``candidates`` (in order of preference) whose leader line from
    ``label_at`` keeps furthest from the other lesions (centre, radius); the first one that
    clears them all by a margin wins."""
    best, best_gap = candidates[0], -math.inf
    for cand in candidates:
        gap = min((_seg_clearance(label_at, cand, c) - r for c, r in others), default=math.inf)
        if gap > 3.0:
            return cand
        if gap > best_gap:
            best, best_gap = cand, gap
    return best


def label_lesions(
    ax, view: View, lesions: Sequence[MipLesion], colours: Sequence[str], fontsize: float = 8.0
) -> None:
    """Each lesion's number and location in the margins beside ``view`` with a leader line
    to its outline: lesions on the viewer's left half to the left margin, the others to the
    right, spread so that no two labels overlap; each leader line ends on the top, the outer
    side or the bottom of its lesion, whichever keeps the line clear of the other lesions."""
    h0, h1, v0, v1 = view.extent
    mid = (h0 + h1) / 2.0
    bbox = ax.get_window_extent()
    line = 1.3 * fontsize * abs(v1 - v0) / max(bbox.height, 1.0)  # one text line, mm
    mm_per_axes = abs(h1 - h0)
    shapes: dict[int, tuple[np.ndarray, float, float, float, float]] = {}
    sides: dict[bool, list[tuple[int, float, float, str]]] = {True: [], False: []}
    for k, les in enumerate(lesions):
        ol = les.outlines.get(view.name)
        if ol is None or not ol.mask.any():
            continue
        ih, iv = np.nonzero(ol.mask)
        hc, vc = float(ol.hs[ih].mean()), float(ol.vs[iv].mean())
        lo, hi = float(ol.hs[ih.min()]), float(ol.hs[ih.max()])
        bot, top = float(ol.vs[iv.min()]), float(ol.vs[iv.max()])
        r = max(hi - lo, top - bot) / 2.0 + 2.0
        shapes[k] = (np.array([hc, vc]), r, lo, hi, bot)
        text = _wrap(f"{les.number} {les.label}")
        sides[hc >= mid].append((k, hc, top, text))
    for left, items in sides.items():
        sizes = [line * (t.count("\n") + 1) + 0.4 * line for *_, t in items]
        ys = _spread([top for _, _, top, _ in items], sizes, min(v0, v1), max(v0, v1))
        # the label's end in data coordinates (the horizontal axis is inverted)
        edge = max(h0, h1) + 0.02 * mm_per_axes if left else min(h0, h1) - 0.02 * mm_per_axes
        for (k, hc, top, text), y in zip(items, ys, strict=True):
            centre, _, lo, hi, bot = shapes[k]
            outer = hi if left else lo
            candidates = [
                np.array([hc, top]),
                np.array([outer, centre[1]]),
                np.array([hc, bot]),
            ]
            others = [(c, r) for j, (c, r, *_) in shapes.items() if j != k]
            xy = _anchor(np.array([edge, y]), candidates, others)
            ax.annotate(
                text,
                xy=(float(xy[0]), float(xy[1])),
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


def nice_ceil(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is at least ``x`` (> 0)."""
    k = 10.0 ** math.floor(math.log10(x))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * k >= x * (1 - 1e-9):
            return m * k
    return 10.0 * k


def lesion_peak(view: View, outline: Outline) -> float:
    """The highest value of ``view`` under ``outline`` (the lesion's peak as projected; NaN
    when the outline lies outside the view)."""
    h0, h1, v0, v1 = view.extent
    nh, nv = view.image.shape
    ih, iv = np.nonzero(outline.mask)
    if not len(ih) or not nh or not nv:
        return math.nan
    a = np.floor((outline.hs[ih] - min(h0, h1)) / (abs(h1 - h0) / nh)).astype(np.int64)
    b = np.floor((outline.vs[iv] - min(v0, v1)) / (abs(v1 - v0) / nv)).astype(np.int64)
    ok = (a >= 0) & (a < nh) & (b >= 0) & (b < nv)
    return float(view.image[a[ok], b[ok]].max()) if ok.any() else math.nan


def wide_window(
    view: View, vmax: float, outlines: Sequence[Outline | None] | None = None
) -> float | None:
    """The upper end of a second, wider SUV window for ``view``, or None when nothing that
    matters in it goes beyond ``vmax`` by more than a fifth.

    With ``outlines`` (the lesions) the window is lesion-aware: it reaches the hottest
    lesion's peak rounded up (:func:`nice_ceil`), so that a lesion in hot physiology (a brain
    lesion of SUVmax 24 in a brain of 12) is darker than what surrounds it instead of both
    being black, and a hotter bladder without a lesion does not widen it; without lesions it
    reaches the view's maximum."""
    if not view.image.size:
        return None
    if outlines is None:
        hot = float(np.nanmax(view.image))
    else:
        peaks = [lesion_peak(view, o) for o in outlines if o is not None]
        peaks = [p for p in peaks if math.isfinite(p)]
        if not peaks:
            return None
        hot = max(peaks)
    if not math.isfinite(hot) or hot <= 1.2 * vmax:
        return None
    return nice_ceil(hot)


@dataclass
class Panel:
    """One panel of :func:`render_mips`: a view, its window (SUV 0 … ``vmax``) and whether
    its lesions are labelled with their locations in the margins (else: numbered)."""

    view: View
    vmax: float
    labelled: bool = False

    @property
    def title(self) -> str:
        return f"{self.view.name} MIP, SUV 0-{self.vmax:g}"


def panels(
    views: Sequence[View],
    vmax: float = 10.0,
    wide: bool = True,
    lesions: Sequence[MipLesion] | None = None,
) -> list[Panel]:
    """The panels of :func:`render_mips`: the first view (labelled) at SUV 0–``vmax``, then the
    same view in a wider window when it saturates where it matters (see :func:`wide_window`,
    lesion-aware when ``lesions`` are given; only when ``wide``), then the other views at
    SUV 0–``vmax``."""
    if not views:
        return []
    out = [Panel(views[0], vmax, labelled=True)]
    outlines = None if lesions is None else [x.outlines.get(views[0].name) for x in lesions]
    hot = wide_window(views[0], vmax, outlines) if wide else None
    if hot is not None:
        out.append(Panel(views[0], hot))
    out += [Panel(v, vmax) for v in views[1:]]
    return out


def figure_size(
    views: Sequence[View], height: int, gutter: int, legend_width: int
) -> tuple[int, int, list[int]]:
    """(width, height, panel widths) in pixels of :func:`render_mips`'s picture: the first
    view with a ``gutter`` on both sides for the labels, the others, the legend."""
    panel_h = height - _TOP - _BOTTOM
    widths = [max(60, round(panel_h * v.width_mm / max(v.height_mm, 1e-6))) for v in views]
    width = 2 * gutter + sum(w + 20 for w in widths) + 20 + legend_width
    return width, height, widths


def panel_boxes(
    views: Sequence[View], height: int, gutter: int, legend_width: int
) -> list[tuple[int, int, int, int]]:
    """Where :func:`render_mips` draws each view: (left, top, width, height) in pixels of the
    picture (top = 0 at its upper edge)."""
    _, _, widths = figure_size(views, height, gutter, legend_width)
    out, x = [], 10 + gutter
    for i, w in enumerate(widths):
        out.append((x, _TOP, w, height - _TOP - _BOTTOM))
        x += w + (gutter if i == 0 else 0) + 20
    return out


_TOP, _BOTTOM = 80, 62


def legend_width_for(lesions: Sequence[MipLesion]) -> int:
    """The legend's width in pixels: enough for its longest line (about 7 pixels a character
    at its type size, plus the number), between 200 and 420."""
    longest = max((len(x.legend or x.label) for x in lesions), default=0)
    return int(min(420, max(200, 50 + 7 * longest)))


def colour_bar(fig, box: tuple[int, int, int, int], vmax: float, size: tuple[int, int]) -> None:
    """A horizontal grey bar under a panel (``box`` in pixels, as :func:`panel_boxes`) from
    SUV 0 (white) to ``vmax`` (black), with its ends and middle marked."""
    width, height = size
    left, top, w, h = box
    bw = max(min(w - 20, 260), 40)
    bx = left + (w - bw) / 2.0
    by = height - (top + h) - 26  # pixels from the bottom edge
    ax = fig.add_axes((bx / width, by / height, bw / width, 10 / height))
    ax.imshow(
        np.linspace(0.0, vmax, 256)[None, :],
        cmap="gray_r",
        vmin=0.0,
        vmax=vmax,
        aspect="auto",
        extent=(0.0, vmax, 0.0, 1.0),
        interpolation="nearest",
    )
    ax.set_yticks([])
    ax.set_xticks([0.0, vmax / 2.0, vmax])
    ax.set_xticklabels(["0", f"{vmax / 2:g}", f"{vmax:g}"], fontsize=7)
    ax.tick_params(length=2, pad=1)
    for sp in ax.spines.values():
        sp.set_linewidth(0.5)
    ax.text(-0.03, 0.5, "SUV", transform=ax.transAxes, ha="right", va="center", fontsize=7)


def render_mips(
    views: Sequence[View],
    lesions: Sequence[MipLesion],
    out: str | os.PathLike | None = None,
    *,
    title: str = "",
    subtitle: str = "",
    vmax: float = 10.0,
    wide: bool = True,
    height: int = 1000,
    gutter: int = 210,
    legend_width: int | None = None,
) -> tuple[bytes, tuple[int, int]]:
    """The views side by side — the first (coronal) with every lesion labelled with its
    location in the margins, the same view in a wider window where it saturates (see
    :func:`panels`), the others with each lesion's number — a colour bar under each, and a
    legend; returns (PNG bytes, (width, height)) and writes them to ``out`` atomically when
    given.  Lesions too small to see get a ring (:data:`MIN_MARKER_PX`); the legend is as wide
    as its longest line needs (:func:`legend_width_for`) unless ``legend_width`` is given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi = 100
    if legend_width is None:
        legend_width = legend_width_for(lesions)
    if not lesions:
        gutter = legend_width = 0
    shown_panels = panels(views, vmax, wide, lesions)
    pviews = [p.view for p in shown_panels]
    width, height, _ = figure_size(pviews, height, gutter, legend_width)
    boxes = panel_boxes(pviews, height, gutter, legend_width)
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
    try:
        panel_h = height - _TOP - _BOTTOM
        for panel, (x, _, w, _) in zip(shown_panels, boxes, strict=True):
            view = panel.view
            ax = fig.add_axes((x / width, _BOTTOM / height, w / width, panel_h / height))
            draw_view(ax, view, vmax=panel.vmax, title=panel.title)
            for k, les in enumerate(lesions):
                ol = les.outlines.get(view.name)
                if ol is not None:
                    draw_outline(
                        ax,
                        ol,
                        "" if panel.labelled else les.number,
                        colour=COLOURS[k % len(COLOURS)],
                        midline=(view.extent[0] + view.extent[1]) / 2.0,
                    )
            if panel.labelled and lesions:
                label_lesions(ax, view, lesions, COLOURS)
            colour_bar(fig, (x, _TOP, w, panel_h), panel.vmax, (width, height))
        if title:
            fig.text(0.5, 1 - 12 / height, title, ha="center", va="top", fontsize=12)
        if subtitle:
            fig.text(
                0.5, 1 - 34 / height, subtitle, ha="center", va="top", fontsize=8.5, color="#555555"
            )
        if lesions:
            x = boxes[-1][0] + boxes[-1][2] + 20
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
        windows = ", ".join(f"{p.view.name} SUV 0-{p.vmax:g}" for p in shown_panels)
        fig.text(
            0.01,
            0.008,
            f"PET maximum-intensity projections, inverted grey (white: SUV 0): {windows}",
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
