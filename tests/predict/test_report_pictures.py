"""What a reader sees: the MIP's windows, colour bars, markers and title; the HTML report's
metadata and layout; and the report in a real browser (headless Chromium, ``slow``)."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from anatloc.imaging import mip
from anatloc.retriever.predict import CaseInput, predict_case, render_case_mip
from anatloc.retriever.report import ReportCase, html_text, provenance, write_report


def _body_with_a_brain_lesion() -> tuple[mip.View, mip.Outline]:
    """A coronal view 200 × 600 mm at 4 mm: a body of SUV 1.5, a brain of SUV 12 and, in the
    brain, a lesion of SUV 24 (12 mm)."""
    img = np.zeros((50, 150), dtype=np.float32)
    img[10:40, 5:120] = 1.5
    img[15:35, 120:145] = 12.0  # the brain
    img[23:26, 130:133] = 24.0  # the lesion
    view = mip.View("coronal", img, (0.0, 200.0, 0.0, 600.0))
    hs = (np.arange(50) + 0.5) * 4.0
    vs = (np.arange(150) + 0.5) * 4.0
    mask = np.zeros_like(img)
    mask[23:26, 130:133] = 1.0
    return view, mip.Outline(mask, hs, vs)


def _grey(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L")).astype(int)


def _pixel(box, view: mip.View, h_mm: float, v_mm: float) -> tuple[int, int]:
    """(row, column) in the picture of world point (h, v) of ``view`` drawn in ``box``."""
    left, top, w, hgt = box
    h0, h1, v0, v1 = view.extent
    col = left + (max(h0, h1) - h_mm) / abs(h1 - h0) * w  # inverted: larger h on the left
    row = top + (max(v0, v1) - v_mm) / abs(v1 - v0) * hgt
    return round(row), round(col)


def test_a_brain_lesion_shows_in_the_wide_window():
    view, outline = _body_with_a_brain_lesion()
    les = mip.MipLesion("1", "Brain", "Brain (SUVmax 24)", {"coronal": outline})
    png, (w, h) = mip.render_mips([view], [les], height=700)
    panels = mip.panels([view], 10.0, lesions=[les])
    assert [p.vmax for p in panels] == [10.0, 25.0]  # the lesion's 24 rounded up
    boxes = mip.panel_boxes([p.view for p in panels], 700, 210, 420)
    g = _grey(png)
    assert g.shape == (h, w)
    lesion, brain = (26 * 4.0 - 2, 131.5 * 4.0), (18 * 4.0, 125 * 4.0)
    # SUV 0-10: the brain and the lesion are both black — the lesion hides
    r, c = _pixel(boxes[0], view, *brain)
    assert g[r, c] < 30
    # the wide window: the brain grey, the lesion darker than the brain around it
    rb, cb = _pixel(boxes[1], view, *brain)
    rl, cl = _pixel(boxes[1], view, *lesion)
    assert 80 < g[rb, cb] < 200
    assert g[rl - 1 : rl + 2, cl - 1 : cl + 2].min() < g[rb, cb] - 60


def test_no_wide_window_when_nothing_saturates():
    view, outline = _body_with_a_brain_lesion()
    hot_bladder = view.image.copy()
    hot_bladder[25, 10] = 60.0
    bladder = mip.View("coronal", hot_bladder, view.extent)
    assert mip.wide_window(bladder, 10.0) == 100.0  # no lesions: the view's maximum
    assert mip.wide_window(bladder, 10.0, [outline]) == 25.0  # lesion-aware: not the bladder
    assert mip.lesion_peak(view, outline) == 24.0
    cool = mip.View("coronal", np.minimum(view.image, 9.0), view.extent)
    assert mip.wide_window(cool, 10.0) is None
    assert len(mip.panels([cool, cool], 10.0)) == 2
    assert mip.nice_ceil(24.0) == 25.0 and mip.nice_ceil(11.0) == 20.0


def test_each_panel_has_a_colour_bar():
    view, outline = _body_with_a_brain_lesion()
    les = mip.MipLesion("1", "Brain", "", {"coronal": outline})
    png, (_, h) = mip.render_mips([view], [les], height=700)
    g = _grey(png)
    for left, top, pw, ph in mip.panel_boxes([view, view], 700, 210, 420):
        band = g[top + ph + 4 : h - 12, left : left + pw]  # under the panel
        rows = [r for r in band if (r < 40).any() and (r > 215).any()]
        # a row that runs from white to black through the greys in between
        assert any(len(np.unique(r // 16)) >= 12 for r in rows), (left, top)


def test_a_one_voxel_lesion_gets_a_ring():
    view, outline = _body_with_a_brain_lesion()
    tiny = np.zeros_like(outline.mask)
    tiny[25, 60] = 1.0  # one 4 mm voxel in the body: ~5 pixels at this height
    one = mip.Outline(tiny, outline.hs, outline.vs)
    les = mip.MipLesion("1", "Liver", "", {"coronal": one})
    colour = np.array([0xD6, 0x27, 0x28])
    png, _ = mip.render_mips([view], [les], height=700, wide=False)
    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    box = mip.panel_boxes([view], 700, 210, 420)[0]
    r, c = _pixel(box, view, 25.5 * 4.0, 60.5 * 4.0)
    near = px[r - 14 : r + 15, c - 14 : c + 15]
    red = (np.abs(near - colour).sum(axis=2) < 90).sum()
    assert red > 30  # a ring of ~16 px across, not a dot of 5


def test_leader_lines_keep_clear_of_other_lesions():
    """A lesion right under another one on the same side: its leader line from the margin
    must not cross the upper lesion (it ends on the lesion's outer side or bottom)."""
    up = np.array([40.0, 300.0])
    r = 6.0
    label_at = np.array([210.0, 312.0])  # left margin, about the upper lesion's height
    top_of_lower = np.array([100.0, 260.0])
    side_of_lower = np.array([106.0, 250.0])
    best = mip._anchor(label_at, [top_of_lower, side_of_lower], [(up, r)])
    assert mip._seg_clearance(label_at, best, up) > r


def test_mip_title_names_the_case_the_date_and_the_version(localizer, case_dir):
    res = predict_case(
        localizer,
        CaseInput.from_files(case_dir / "pet.nii.gz", lesions=case_dir / "lesions.nii.gz"),
        views=("coronal", "sagittal"),
    )
    seen: dict[str, str] = {}
    real = mip.render_mips

    def spy(*a, **k):
        seen.update(title=k["title"], subtitle=k["subtitle"])
        return real(*a, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(mip, "render_mips", spy)
    try:
        render_case_mip(res, model="m.pt")
    finally:
        mp.undo()
    assert seen["title"].startswith(res.case_id)
    assert "anatloc " in seen["subtitle"] and "m.pt" in seen["subtitle"]
    assert seen["subtitle"][:4].isdigit()  # the date first


@pytest.fixture(scope="module")
def report_case(localizer, case_dir):
    res = predict_case(
        localizer,
        CaseInput.from_files(
            case_dir / "pet.nii.gz", ct=case_dir / "ct.nii.gz", lesions=case_dir / "lesions.nii.gz"
        ),
        views=("coronal", "sagittal"),
    )
    png, _ = render_case_mip(res, model="m.pt")
    return ReportCase(res, png, "mip.png")


def test_html_report_says_what_made_it_and_reads_at_800_px(report_case, ont):
    made = provenance("m.pt", ont)
    assert [k for k, _ in made] == ["date", "anatloc", "model", "ontology"]
    page = html_text([report_case], title="anatloc report", made_by=made)
    case_id = report_case.result.case_id
    assert page.count(f"<h2>{case_id}</h2>") == 1 and case_id not in page.split("<h2>")[0]
    for k, v in made:
        assert f"<dt>{k}</dt><dd>{v}</dd>" in page
    assert '<div class="table-wrap"><table>' in page and "overflow-x: auto" in page
    assert 'class="zoom"' in page and ".mip-box img { display: block; width: 100%" in page
    assert "<script" not in page


def test_html_report_shows_the_dicom_identifiers(report_case):
    res = report_case.result
    for les in res.lesions:
        les.images = {"pet_series_uid": "1.2.3.4", "suv_source": "headers"}
    try:
        page = html_text([report_case], title="t")
    finally:
        for les in res.lesions:
            les.images = {}
    assert "<dt>PET series UID</dt><dd>1.2.3.4</dd>" in page
    assert "<dt>suv source</dt><dd>headers</dd>" in page
    assert "series UID" not in html_text([report_case], title="t")  # NIfTI: none


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


#: appended to a copy of the report (the report itself runs no script): its layout as text
_PROBE = """<script>
window.addEventListener('load', () => {
  const img = document.querySelector('img.mip');
  document.body.setAttribute('data-probe', [document.documentElement.scrollWidth,
    img ? img.naturalWidth : 0, img ? Math.round(img.getBoundingClientRect().width) : 0,
    Math.round(document.querySelector('table').getBoundingClientRect().right),
    document.querySelector('.table-wrap').scrollWidth -
    document.querySelector('.table-wrap').clientWidth].join(','));
});
</script>"""


@pytest.mark.slow
def test_report_in_headless_chromium_at_800_px(report_case, ont, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium (Debian package 'chromium'); .ci/run installs it")
    # as the demo writes it: with a column of true locations, some of them long
    truth = {
        les.prediction.lesion_id: ("Spinous process of vertebra T8 (or Near vertebra T8)", True)
        for les in report_case.result.lesions
    }
    case = ReportCase(report_case.result, report_case.mip_png, "mip.png", truth)
    _, ht = write_report(tmp_path, [case], made_by=provenance("m.pt", ont))
    probe = tmp_path / "probe.html"
    probe.write_text(ht.read_text().replace("</body>", _PROBE + "</body>"))
    flags = [
        browser,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=800,2400",
        "--virtual-time-budget=5000",
    ]
    run = dict(capture_output=True, text=True, timeout=60, check=True)
    dom = subprocess.run([*flags, "--dump-dom", probe.as_uri()], **run).stdout
    probe_text = dom.split('data-probe="', 1)[1].split('"', 1)[0]
    page_w, natural_w, shown_w, table_right, hidden = (int(v) for v in probe_text.split(","))
    assert page_w <= 800  # nothing runs off the page
    assert table_right <= 800 and hidden <= 0  # the whole table shows, no scrolling
    assert natural_w > 800 and 600 <= shown_w <= 800  # the picture is there, fitted
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", ht.as_uri()], **run)
    with Image.open(shot) as img:
        assert img.size[0] == 800
        g = np.asarray(img.convert("L"))
    assert (g < 100).mean() > 0.01  # text and the picture's dark pixels, not a blank page
