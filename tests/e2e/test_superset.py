"""Superset on the real stack: the Gold dashboard over Trino, seen by a real headless Chromium.

Trades go through Kafka and the bronze job into their own table (``bronze.trades_superset``) and
``lakectl dbt build`` makes Silver and Gold of them; then Chromium (Debian's, driven by Selenium
through Debian's chromium-driver) logs in with the generated admin password, opens the dashboard,
waits for its three charts, and saves a screenshot (its path is printed in pytest's summary). The
REST API checks each chart's own saved query returns rows. Re-running ``up`` after a restart must
not duplicate anything; a wrong password and ``open`` of a stopped Superset fail in one line.
The Silver and Gold tables built here are dropped afterwards, like test_dag does.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from lakectl.errors import ComponentError
from lakectl.runtime.services import superset as superset_service
from tests.conftest import TEST_PORTS
from tests.e2e.bronze_helpers import prepare_topic, submit, wait_for_rows
from tests.e2e.conftest import report_artifact

pytestmark = pytest.mark.e2e

TOPIC = "trades_superset"
JOB_NAME = f"bronze_{TOPIC}"
COUNT = 2400
MINUTES = 30
SYMBOLS = {"AAPL": 190.0, "MSFT": 420.0, "NVDA": 120.0, "TSLA": 250.0}
BUILT = ("silver.trades_clean", "gold.ohlcv_1m", "gold.vwap", "gold.top_movers")
URL = f"http://127.0.0.1:{TEST_PORTS['superset']}"
CHARTS = {"OHLCV 1m: close by symbol": "echarts_timeseries_line", "VWAP by symbol and day": "echarts_timeseries_bar",
          "Top movers": "table"}
CHROMIUM, CHROMEDRIVER = "chromium", "chromedriver"  # Debian's packages (make system-deps)


def trades(now: datetime) -> list[dict]:
    """MINUTES minutes of trades of a few symbols ending now, each price a seeded random walk, so the
    one-minute chart has a line per symbol (synthetic trades all fall into the current minute)."""
    rng = random.Random(7)
    records = []
    for symbol, price in SYMBOLS.items():
        for i in range(COUNT // len(SYMBOLS)):
            price = max(1.0, price * (1 + rng.gauss(0, 0.002)))
            at = now - timedelta(minutes=MINUTES) + timedelta(seconds=i * MINUTES * 60 / (COUNT // len(SYMBOLS)))
            records.append({"trade_id": f"ss-{symbol}-{i}", "symbol": symbol, "price": f"{price:.6f}",
                            "size": rng.randint(1, 500), "side": rng.choice(["BUY", "SELL"]), "exchange": "XNAS",
                            "event_time": at.isoformat(timespec="milliseconds")})
    return records


@pytest.fixture(scope="module")
def gold(stack, tmp_path_factory):
    """Gold built from COUNT trades spread over the last MINUTES minutes, in this module's own topic."""
    prepare_topic(stack, TOPIC)
    submit(stack, JOB_NAME, TOPIC)
    path = tmp_path_factory.mktemp("superset") / "trades.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in trades(datetime.now(UTC))))
    stack.ok("produce", TOPIC, "--from-file", str(path), "--key-field", "symbol")
    assert wait_for_rows(stack, TOPIC, COUNT) == {"iceberg": COUNT, "delta": COUNT}
    drop_built(stack)  # Silver is incremental: rows an earlier module built from its own topic would stay
    built = stack.lakectl("dbt", "build", "--vars", f"{{bronze_table: {TOPIC}}}", "-o", "json", timeout=1200)
    assert built.code == 0, f"{built.err}\n{built.out[-3000:]}"
    yield
    drop_built(stack)


def drop_built(stack) -> None:
    for table in BUILT:
        stack.ok("query", f"DROP TABLE IF EXISTS iceberg.{table}", timeout=120)


def password(stack) -> str:
    return json.loads((stack.state_dir / "secrets.json").read_text())["superset_admin_password"]


@pytest.fixture(scope="module")
def api(stack):
    token = superset_service.login(URL, password(stack), timeout=30)
    with httpx.Client(base_url=URL, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def rison_eq(column: str, value: str) -> dict:
    return {"q": f"(filters:!((col:{column},opr:eq,value:'{value}')))"}


def counts(api) -> dict[str, int]:
    """How many of the bundle's objects Superset holds, by name."""
    def count(path: str, column: str, value: str) -> int:
        response = api.get(path, params=rison_eq(column, value))
        assert response.status_code == 200, response.text
        return response.json()["count"]

    found = {"dashboard": count("/api/v1/dashboard/", "slug", "gold"),
             "database": count("/api/v1/database/", "database_name", "Lakehouse (Trino)")}
    for name in CHARTS:
        found[name] = count("/api/v1/chart/", "slice_name", name)
    for table in ("ohlcv_1m", "vwap", "top_movers"):
        found[table] = count("/api/v1/dataset/", "table_name", table)
    return found


def test_status_and_open_show_superset(stack, request):
    services = {s["name"]: s for s in stack.ok("status", "-o", "json").json()["services"]}
    status = services["superset"]
    assert status["state"] == "running" and status["healthy"] is True, status
    assert status["url"] == URL and stack.ok("open", "superset").out.strip() == URL
    report_artifact(request.config, f"superset RSS: {status['rss_mb']} MB (gunicorn master + 1 worker)")
    assert status["rss_mb"] < 1024


def test_bundle_imported_once_with_this_stacks_trino(api):
    assert set(counts(api).values()) == {1}
    (database,) = api.get("/api/v1/database/", params=rison_eq("database_name", "Lakehouse (Trino)")).json()["result"]
    detail = api.get(f"/api/v1/database/{database['id']}/connection").json()["result"]
    assert detail["sqlalchemy_uri"] == f"trino://lakectl@127.0.0.1:{TEST_PORTS['trino']}/iceberg"


def dashboard_charts(api) -> dict[str, dict]:
    response = api.get("/api/v1/dashboard/gold/charts")
    assert response.status_code == 200, response.text
    return {c["slice_name"]: c for c in response.json()["result"]}


def test_every_chart_query_returns_gold_rows(stack, gold, api):
    charts = dashboard_charts(api)
    assert {name: c["form_data"]["viz_type"] for name, c in charts.items()} == CHARTS
    symbols = {row[0] for row in stack.ok("query", "SELECT DISTINCT symbol FROM iceberg.gold.ohlcv_1m",
                                          "-o", "json").json()["rows"]}
    assert symbols == set(SYMBOLS)
    for name, chart in charts.items():
        response = api.get(f"/api/v1/chart/{chart['id']}/data/", params={"force": "true"})
        assert response.status_code == 200, f"{name}: {response.text[:500]}"
        (result,) = response.json()["result"]
        assert result.get("error") is None and result["rowcount"] > 0, (name, result)
        if CHARTS[name] == "table":  # the raw rows: every movers row names a Gold symbol, ranked from 1
            assert [r["rank"] for r in result["data"]] == list(range(1, len(result["data"]) + 1))
            assert {r["symbol"] for r in result["data"]} == symbols
        elif CHARTS[name] == "echarts_timeseries_line":  # pivoted: a row per minute, a column per symbol
            assert result["colnames"][0] == "minute"
            assert {c.removeprefix("close, ") for c in result["colnames"][1:]} == symbols
            assert MINUTES - 1 <= result["rowcount"] <= MINUTES + 1
        else:  # a row per symbol, a column per day
            assert sorted(r["symbol"] for r in result["data"]) == sorted(symbols)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which(CHROMIUM), shutil.which(CHROMEDRIVER)
    assert binary and driver, "Debian's chromium and chromium-driver are needed (make system-deps)"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1600,1400", "--lang=en-US"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)


# per chart on the dashboard: still loading, drawn (a canvas with pixels, or table rows), or an
# error / the empty "No results" state
SLICES_JS = """
return Array.from(document.querySelectorAll('[data-test="chart-grid-component"]')).map(el => ({
  name: el.getAttribute('data-test-chart-name'),
  viz: el.getAttribute('data-test-viz-type'),
  loading: !!el.querySelector('[data-test="loading-indicator"], .loading'),
  canvases: Array.from(el.querySelectorAll('canvas')).filter(c => c.width > 0 && c.height > 0).length,
  // pixels in colour (series), not the greys of axes, grid lines and labels
  colored: Array.from(el.querySelectorAll('canvas')).reduce((n, c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 128 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 80) n++;
    }
    return n;
  }, 0),
  rows: el.querySelectorAll('table tbody tr').length,
  empty: !!el.querySelector('[data-test="empty-state"]') || el.innerText.includes('No results'),
  error: !!el.querySelector('[role="alert"], .alert-danger, [data-test="error-tooltip"]')
         || /error|unexpected/i.test(el.innerText),
  text: el.innerText.slice(0, 400),
}));
"""


def settled(slices: list[dict]) -> bool:
    return len(slices) == len(CHARTS) and all(
        not s["loading"] and (s["canvases"] or s["rows"] or s["empty"] or s["error"]) for s in slices)


def test_browser_renders_the_gold_dashboard(stack, gold, api, tmp_path_factory, request):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    top = stack.ok("query", "SELECT symbol FROM iceberg.gold.top_movers WHERE rank = 1", "-o", "json").json()
    shot = tmp_path_factory.getbasetemp() / "artifacts" / "superset-gold.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    driver = browser()
    slices: list[dict] = []
    try:
        wait = WebDriverWait(driver, 90, poll_frequency=0.5)
        driver.get(f"{URL}/login/")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-test="username-input"]'))
        driver.find_element(By.CSS_SELECTOR, '[data-test="username-input"]').send_keys("admin")
        driver.find_element(By.CSS_SELECTOR, '[data-test="password-input"]').send_keys(password(stack))
        driver.find_element(By.CSS_SELECTOR, '[data-test="login-button"]').click()
        wait.until(lambda d: "/login" not in d.current_url)
        driver.get(f"{URL}/superset/dashboard/gold/")
        started = time.monotonic()
        try:
            wait.until(lambda d: settled(d.execute_script(SLICES_JS)))
        finally:
            time.sleep(1.5)  # ECharts animates its first draw (~1 s): let it finish before looking
            slices = driver.execute_script(SLICES_JS)
            driver.save_screenshot(str(shot))
            report_artifact(request.config, f"Superset Gold dashboard screenshot: {shot}")
        rendered_s = time.monotonic() - started
    finally:
        driver.quit()
    report_artifact(request.config, f"dashboard rendered in {rendered_s:.0f}s: " + ", ".join(
        f"{s['name']}: {s['colored']} coloured px, {s['rows']} rows" for s in slices))
    assert shot.stat().st_size > 20_000  # a real picture, not a blank page
    assert {s["name"]: s["viz"] for s in slices} == CHARTS, slices
    for s in slices:
        assert not s["error"] and not s["empty"], s
        if s["viz"] == "table":
            assert s["rows"] >= 1 and top["rows"][0][0] in s["text"], s
        else:  # lines or bars drawn: many more coloured pixels than the legend's ~150
            assert s["canvases"] >= 1 and s["colored"] > 1000, s
    assert rendered_s < 90


def test_wrong_password_is_refused(stack):
    with pytest.raises(ComponentError, match="login as 'admin' refused"):
        superset_service.login(URL, password(stack) + "x", timeout=30)


def test_restart_reimports_without_duplicates_and_open_fails_while_stopped(stack, api, request):
    before = counts(api)
    stack.ok("down", "superset")
    stopped = stack.lakectl("open", "superset")
    assert stopped.code == 3 and stopped.out == ""
    assert stopped.err.strip().splitlines() == [
        f"lakectl: error: superset is not running (not-started) at {URL} (lakectl up superset)"]
    started = time.monotonic()
    stack.ok("up", "superset", timeout=600)
    report_artifact(request.config, f"superset restart (warm, template copy skipped, bundle re-imported): "
                          f"{time.monotonic() - started:.0f}s")
    token = superset_service.login(URL, password(stack), timeout=30)
    api.headers["Authorization"] = f"Bearer {token}"
    assert counts(api) == before
