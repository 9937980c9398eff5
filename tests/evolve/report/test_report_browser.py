"""The report of a small real run, opened in headless Chromium with no network."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest
from devtools_client import Browser, find_chromium
from rich.console import Console

from evolve import browse
from evolve.archive import Archive

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (Debian: apt-get install chromium; or set "
                                                 "EVOLVE_CHROMIUM to the browser executable)"),
]

CHARTS = ("chart-score", "chart-lineage", "chart-grid", "chart-failures")
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

# where (in viewport pixels) a lineage node is drawn, and whether another node is too close to click it alone
NODE_POSITION = """(() => {
  const gd = document.getElementById('chart-lineage');
  gd.scrollIntoView({block: 'center', behavior: 'instant'});
  const t = gd.data.find(tr => tr.mode === 'markers');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  const pts = t.x.map((x, i) => ({id: t.customdata[i], x: box.left + xa._offset + xa.l2p(x),
                                   y: box.top + ya._offset + ya.l2p(t.y[i])}));
  return pts.map(p => ({...p, gap: Math.min(...pts.filter(o => o.id !== p.id)
                                            .map(o => Math.hypot(o.x - p.x, o.y - p.y)), 1e9)}));
})()"""


@pytest.fixture(scope="module")
def report_file(real_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    code = browse.main("report", [str(real_run), "-o", str(out)], console=Console(file=io.StringIO(), markup=False))
    assert code == 0
    return out


@pytest.fixture(scope="module")
def page(report_file: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One browser for the module (starting Chromium is the slow part); tests leave the page usable."""
    with Browser(CHROMIUM, tmp_path_factory.mktemp("browser"), width=1400, height=1000) as b:  # type: ignore[arg-type]
        b.open(report_file.as_uri())
        b.wait_for("document.body.getAttribute('data-charts-ready') === 'true'", timeout=60)
        yield b


def test_the_report_renders_offline_without_console_errors_and_with_every_chart(page: Browser,
                                                                                report_file: Path) -> None:
    assert page.problems() == []
    assert [u for u in page.requested_urls() if not u.startswith(LOCAL_SCHEMES)] == []
    drawn = page.evaluate("JSON.stringify(Object.fromEntries(" + json.dumps(list(CHARTS)) + """.map(id => {
        const el = document.getElementById(id);
        return [id, el ? {rendered: el.getAttribute('data-rendered'), svgs: el.querySelectorAll('svg.main-svg').length,
                          traces: (el.data || []).length} : null];
    })))""")
    drawn = json.loads(drawn)
    embedded = page.evaluate("JSON.parse(document.getElementById('evolve-data').textContent).figures")
    for chart in ("chart-score", "chart-lineage", "chart-grid"):
        assert embedded[chart] is not None, chart
    for chart, fig in embedded.items():
        if fig is None:
            assert drawn[chart] is None  # an explanation is shown instead
            continue
        assert drawn[chart]["rendered"] == "true" and drawn[chart]["svgs"] >= 1, chart
        assert drawn[chart]["traces"] == len(fig["data"]), chart
    points = page.evaluate("document.querySelectorAll('#chart-score .scatterlayer .point').length")
    assert points > 10  # every evaluation is drawn


def test_the_best_programs_code_appears(page: Browser, real_run: Path) -> None:
    a = Archive.for_run_dir(real_run)
    best = a.top(a.get_run().id, n=1)[0]
    a.close()
    shown = page.evaluate("document.getElementById('best-code').innerText")
    for line in best.code.strip().splitlines():
        assert line.rstrip() in shown
    initial = page.evaluate("JSON.parse(document.getElementById('evolve-data').textContent).initial")
    assert initial == best.id  # the inspector opens on the best program


def test_clicking_a_lineage_node_shows_its_diff(page: Browser, tmp_path: Path) -> None:
    initial = page.evaluate("document.body.getAttribute('data-inspected')")
    programs = page.evaluate("JSON.parse(document.getElementById('evolve-data').textContent).programs")
    nodes = page.evaluate(NODE_POSITION)
    candidates = [n for n in nodes if str(n["id"]) != initial and programs[str(n["id"])]["diff"] and n["gap"] > 14]
    assert candidates, "no lineage node with a diff can be clicked on its own"
    target = max(candidates, key=lambda n: n["gap"])
    page.click(target["x"], target["y"])
    page.wait_for(f"document.body.getAttribute('data-inspected') === '{target['id']}'", timeout=10)
    panel = page.evaluate("""(() => {
        const d = document.getElementById('insp-diff');
        return {title: document.getElementById('insp-title').textContent, visible: d.offsetHeight > 0,
                text: d.innerText, added: d.querySelectorAll('.d-add').length};
    })()""")
    assert f"#{target['id']}" in panel["title"]
    assert panel["visible"] and panel["added"] >= 1
    assert f"+++ #{target['id']}" in panel["text"]
    assert page.problems() == []
    shot = page.screenshot(tmp_path / "report.png")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


def test_sorting_the_top_table_by_a_column_reorders_its_rows(page: Browser) -> None:
    ranks = "Array.from(document.querySelectorAll('#top-table tbody tr')).map(r => Number(r.cells[0].textContent))"
    head = "document.querySelector('#top-table thead th')"
    before = page.evaluate(ranks)
    for order, expected in (("ascending", sorted(before)), ("descending", sorted(before, reverse=True))):
        for _ in range(3):
            if page.evaluate(f"{head}.getAttribute('aria-sort')") == order:
                break
            page.evaluate(f"{head}.click()")
        assert page.evaluate(ranks) == expected
    assert page.problems() == []


# -- layout at the widths of a laptop (1024 px) and a desktop (1400 px) ---------------------------------
LAYOUT = """(() => {
  const box = el => { const r = el.getBoundingClientRect(); return {l: r.left, r: r.right, t: r.top, b: r.bottom}; };
  const bar = document.querySelector('header.topbar');
  const parts = [bar.querySelector('.brand'), bar.querySelector('.crumb'), ...bar.querySelectorAll('nav a')];
  const hidden = parts.filter(el => { const b = box(el); const hit = document.elementFromPoint((b.l + b.r) / 2, (b.t + b.b) / 2);
                                      return !(hit && (hit === el || el.contains(hit))); }).map(el => el.textContent.trim());
  const overlaps = [];
  parts.forEach((a, i) => parts.slice(i + 1).forEach(c => { const x = box(a), y = box(c);
    if (x.l < y.r - 1 && y.l < x.r - 1 && x.t < y.b - 1 && y.t < x.b - 1) overlaps.push([a.textContent.trim(), c.textContent.trim()]); }));
  const cut = el => el.scrollWidth > el.clientWidth + 1;
  return {pageWidth: document.documentElement.scrollWidth, viewport: window.innerWidth, barHeight: box(bar).b - box(bar).t,
          linksOutside: [...bar.querySelectorAll('nav a')].filter(a => { const b = box(a), h = box(bar);
                          return b.t < h.t || b.b > h.b || b.l < 0 || b.r > window.innerWidth; }).map(a => a.textContent),
          hidden, overlaps,
          cutTables: [...document.querySelectorAll('.table-scroll')].filter(cut).map(el => el.querySelector('table').id),
          cutCode: [...document.querySelectorAll('pre.code')].filter(cut).map(el => el.id || el.className)};
})()"""


@pytest.fixture(scope="module")
def laptop(report_file: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with Browser(CHROMIUM, tmp_path_factory.mktemp("laptop"), width=1024, height=800) as b:  # type: ignore[arg-type]
        b.open(report_file.as_uri())
        b.wait_for("document.body.getAttribute('data-charts-ready') === 'true'", timeout=60)
        yield b


def _at_width(b: Browser, width: int) -> None:
    b.send("Emulation.setDeviceMetricsOverride", width=width, height=800, deviceScaleFactor=1, mobile=False)
    b.evaluate("window.dispatchEvent(new Event('resize'))")
    b.wait_for(f"window.innerWidth === {width}", timeout=10)


@pytest.mark.parametrize("width", [1024, 1400])
def test_at_laptop_and_desktop_widths_nothing_is_cut_or_covered(laptop: Browser, width: int,
                                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    _at_width(laptop, width)
    layout = laptop.evaluate(LAYOUT)
    # EVOLVE_SCREENSHOTS=DIR keeps the screenshots for a person to look at; else they go to a temp dir
    keep = os.environ.get("EVOLVE_SCREENSHOTS")
    shots = Path(keep) if keep else tmp_path_factory.mktemp(f"screens-{width}")
    shots.mkdir(parents=True, exist_ok=True)
    laptop.screenshot(shots / f"report-{width}-top.png", full_page=False)
    laptop.screenshot(shots / f"report-{width}.png")  # the whole page, for a person to look at
    assert layout["pageWidth"] <= layout["viewport"], layout
    assert layout["barHeight"] <= 56, layout  # one line: the bar does not grow over the page
    assert layout["linksOutside"] == [] and layout["hidden"] == [] and layout["overlaps"] == [], layout
    assert layout["cutTables"] == [], layout  # every table shows all its columns
    assert layout["cutCode"] == [], layout  # long code lines wrap inside their box
    assert laptop.problems() == []


@pytest.mark.parametrize("section", ["programs", "space", "failures"])
def test_a_section_reached_from_the_navigation_bar_starts_below_it(laptop: Browser, section: str) -> None:
    _at_width(laptop, 1024)
    laptop.evaluate(f"document.querySelector('nav a[href=\"#{section}\"]').click()")
    laptop.wait_for(f"location.hash === '#{section}'", timeout=10)
    for _ in range(100):  # the scroll is smooth: wait until it has stopped
        before = laptop.evaluate("window.scrollY")
        time.sleep(0.2)
        if laptop.evaluate("window.scrollY") == before:
            break
    heading_top = laptop.evaluate(f"document.querySelector('#{section} h2').getBoundingClientRect().top")
    bar_bottom = laptop.evaluate("document.querySelector('header.topbar').getBoundingClientRect().bottom")
    assert heading_top >= bar_bottom


def test_a_long_code_line_wraps_inside_its_box(tmp_path: Path) -> None:
    from archive_builder import build_archive, variant

    from evolve.archive.store import sqlite_url

    built = build_archive(tmp_path / "run")
    long_expr = " + ".join(f"max(d, p * {k}.5)" for k in range(30))  # about 500 characters on one line
    a = Archive(sqlite_url(built.run_dir / "archive.db"))
    try:
        pid = a.add_program(built.run_id, "long", parent_id=built.best, generation=3, code=variant(long_expr),
                            code_hash="long", edit="wrap", edit_kind="offline:wrap", model="offline")
        a.complete_program(pid, status="ok", score=-1.0, metrics={"score": -1.0, "gap_pct": 1.0}, error=None,
                           cell="2,2", eval_index=4, run_evaluations=4, stages=[])
        a.update_run(built.run_id, best_program_id=pid, best_score=-1.0)
    finally:
        a.close()
    out = tmp_path / "report.html"
    assert browse.main("report", [str(built.run_dir), "-o", str(out)],
                       console=Console(file=io.StringIO(), markup=False)) == 0
    with Browser(CHROMIUM, tmp_path / "browser", width=1024, height=800) as b:  # type: ignore[arg-type]
        b.open(out.as_uri())
        b.wait_for("document.body.getAttribute('data-charts-ready') === 'true'", timeout=60)
        boxes = b.evaluate("""['best-code', 'best-diff', 'insp-diff'].map(id => {
            const el = document.getElementById(id);
            return [id, el.scrollWidth, el.clientWidth, el.innerText.includes('max(d, p * 29.5)')];
        })""")
        b.screenshot(tmp_path / "long-line.png", clip={"x": 0, "y": b.evaluate(
            "document.getElementById('best').getBoundingClientRect().top + window.scrollY"), "width": 1024,
            "height": 700})
        assert b.problems() == []
    for name, scroll_width, client_width, whole in boxes:
        assert whole and scroll_width <= client_width + 1, (name, scroll_width, client_width)
