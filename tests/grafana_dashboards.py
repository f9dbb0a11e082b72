"""The Grafana dashboards of deploy/grafana/dashboards, read the way Grafana reads their queries.

Shared by the schema check (tests/unit) and the live check against Prometheus (tests/e2e).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

GRAFANA = Path(__file__).resolve().parents[1] / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCE_UID = "lakectl-prometheus"

# Grafana's own variables, as a test stands them in: $__rate_interval is at least 4x the scrape
# interval (10 s) in Grafana, so 1m; $__interval is the step of a query over the last few minutes.
BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m"}


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref_id: str
    expr: str
    variables: tuple[tuple[str, str], ...] = ()  # the dashboard's own: ($name, its "All" value)

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref_id}"

    def promql(self) -> str:
        """The expression with Grafana's built-in variables, and the dashboard's own at "All", substituted."""
        expr = self.expr
        for variable, value in [*BUILTINS.items(), *self.variables]:
            expr = expr.replace(variable, value)
        return expr


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def panels(dashboard: dict) -> list[dict]:
    """Every panel, those inside collapsed rows too."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def queries(dashboard: dict) -> list[PanelQuery]:
    declared = dashboard.get("templating", {}).get("list", [])
    variables = tuple((f"${v['name']}", v.get("allValue") or ".*") for v in declared)
    return [PanelQuery(dashboard["title"], panel.get("title", f"panel {panel.get('id')}"), target.get("refId", "?"),
                       target.get("expr", ""), variables)
            for panel in panels(dashboard) for target in panel.get("targets", [])]


def variables_used(expr: str) -> set[str]:
    """The $names an expression uses (Grafana's built-ins included)."""
    return set(re.findall(r"\$\{?(\w+)", expr))
