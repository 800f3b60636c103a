"""axe-core (from the npm registry, ``frontend/package-lock.json``) injected into a page.

``make test`` installs it (``make frontend``: ``npm ci --prefix frontend``). Without it the
accessibility tests skip with the reason, and fail under CONSENT_TEST_REQUIRE_SERVERS=1 (CI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.chromium import need

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_source() -> str:
    need(AXE.is_file(), f"{AXE.relative_to(AXE.parents[3])} is missing; run: make frontend")
    return AXE.read_text(encoding="utf-8")


def violations(driver: Any, source: str) -> list[dict[str, Any]]:
    """The serious and critical axe-core violations of the page open in ``driver``
    (WCAG 2.0-2.2 A and AA rules and best practices)."""
    driver.execute_script(source)  # through the driver, not a <script>: the page's CSP stays as it is
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                              "wcag22aa", "best-practice"]}})
           .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                                   nodes: v.nodes.map(n => n.target.join(" "))}))))
           .catch(e => done([{id: "axe-error", impact: "critical", help: String(e), nodes: []}]));
        """
    )
    return [v for v in result if v["impact"] in BLOCKING]
