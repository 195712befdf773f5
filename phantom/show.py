"""A picture of a case: the coronal PET MIP with the lesions outlined and numbered, beside a
coronal CT slice — the way a reading workstation shows a whole-body FDG study.

The MIP is drawn in inverted grey (black = high uptake) from SUV 0 to ``vmax`` (default 10),
the patient's right on the viewer's left (radiological convention), head up, in physical
proportions.  Each lesion's outline is the contour of its mask's projection; its number is
its ``lesion_id`` (``mask_label`` in the lesion table).  The CT panel is the coronal slice
through the middle of the lesions (or of the body), soft-tissue window (W 400 / L 40).

Works on any case folder with ``pet.nii.gz`` (and optionally ``ct.nii.gz`` and
``lesions.nii.gz``) in any orientation: the images are reoriented to RAS for display.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from anatloc.imaging import mip
from anatloc.ontology.errors import DataError
from anatloc.ontology.fileio import atomic_write


def _load(path: Path, required: bool):
    import nibabel as nib

    if not path.exists():
        if required:
            raise DataError(
                f"{path} does not exist; a case folder holds pet.nii.gz (and ct.nii.gz, lesions.nii.gz)"
            )
        return None
    try:
        img = nib.as_closest_canonical(nib.load(str(path)))
        data = np.asarray(img.dataobj)
    except Exception as exc:  # nibabel raises many kinds
        raise DataError(f"cannot read {path}: {exc}") from None
    if data.ndim != 3:
        raise DataError(f"{path} is not a 3-D image (shape {data.shape})")
    return data, img.affine


def _extent(shape, affine) -> list[float]:
    """imshow extent (world mm) of an (x, z) image: [left, right, bottom, top]."""
    sx, sz = affine[0, 0], affine[2, 2]
    x0, z0 = affine[0, 3], affine[2, 3]
    x1 = x0 + (shape[0] - 1) * sx
    z1 = z0 + (shape[2] - 1) * sz
    return [x0 - sx / 2, x1 + sx / 2, z0 - sz / 2, z1 + sz / 2]


def render_mip(case_dir: str | Path, out: str | Path, vmax: float = 10.0, dpi: int = 110) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise DataError(
            f"{case_dir} is not a folder; give a case folder of 'anatloc phantom generate'"
        )
    pet, paff = _load(case_dir / "pet.nii.gz", True)
    ct = _load(case_dir / "ct.nii.gz", False)
    les = _load(case_dir / "lesions.nii.gz", False)

    views = mip.project(pet, paff, ("coronal",))
    fig_h = 9.0
    height_mm = views["coronal"].height_mm
    width_mm = views["coronal"].width_mm
    panels = 2 if ct is not None else 1
    fig_w = max(4.0, fig_h * width_mm / height_mm * panels * 1.1 + 0.6)
    fig, axes = plt.subplots(1, panels, figsize=(fig_w, fig_h), facecolor="white", squeeze=False)
    ax = axes[0, 0]
    mip.draw_view(
        ax, views["coronal"], vmax=vmax, title=f"{case_dir.name}: PET MIP (SUV 0-{vmax:g})"
    )
    y_slice = None
    if les is not None:
        lm, laff = les
        ids = [int(v) for v in np.unique(lm) if v > 0]
        xs = laff[0, 3] + np.arange(lm.shape[0]) * laff[0, 0]
        zs = laff[2, 3] + np.arange(lm.shape[2]) * laff[2, 2]
        ys = []
        for i in ids:
            m = lm == i
            proj = m.any(axis=1).astype(np.float32)
            mip.draw_outline(ax, mip.Outline(proj, xs, zs), str(i), colour="#d62728")
            idx = np.argwhere(m)
            ys.append(laff[1, 3] + idx[:, 1].mean() * laff[1, 1])
        if ys:
            y_slice = float(np.median(ys))
    if ct is not None:
        cdat, caff = ct
        if y_slice is None:
            body = (cdat > -500).sum(axis=(0, 2))
            j = int(np.round((np.arange(len(body)) * body).sum() / max(body.sum(), 1)))
        else:
            j = int(np.clip(np.rint((y_slice - caff[1, 3]) / caff[1, 1]), 0, cdat.shape[1] - 1))
        sl = cdat[:, j, :].astype(np.float32)
        ax2 = axes[0, 1]
        ax2.imshow(
            sl.T,
            cmap="gray",
            vmin=40 - 200,
            vmax=40 + 200,
            origin="lower",
            extent=_extent(cdat.shape, caff),
            interpolation="bilinear",
        )
        ax2.set_title(
            f"CT coronal, y = {caff[1, 3] + j * caff[1, 1]:.0f} mm (W400/L40)", fontsize=9
        )
    for a in axes[0, 1:]:  # the CT panel; the MIP is drawn by anatloc.imaging.mip
        a.invert_xaxis()  # +x (the patient's right) on the viewer's left
        a.set_xticks([])
        a.set_yticks([])
        a.set_aspect("equal")
        for sp in a.spines.values():
            sp.set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    out = Path(out)
    atomic_write(out, buf.getvalue())
    return out
