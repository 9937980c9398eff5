"""The report of a small real run, opened in headless Chromium with no network."""

from __future__ import annotations

import io
import json
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
