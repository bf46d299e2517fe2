"""axe-core in the browser tests: evaluate the npm package's axe.min.js (node_modules, from package-lock.json)
and assert that a page has no serious or critical accessibility violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE_SCRIPT = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# Lesser rules that Ferry's pages once broke (issue 15): kept fixed too.
ALSO_BLOCKING = ("landmark-unique", "aria-allowed-role")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (each: id, impact, help, nodes)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Not add_script_tag: the pages' CSP (script-src 'self') refuses an inline script; DevTools'
        # evaluation is not bound by it, and the page under test keeps its real policy.
        page.evaluate(f"{AXE_SCRIPT.read_text()}\n;undefined")
    result: list[dict[str, Any]] = page.evaluate("axe.run(document).then(r => r.violations)")
    return result


def assert_accessible(page: Any) -> None:
    """No serious or critical violation (nor one of ALSO_BLOCKING); the message names each rule and the
    first elements it found."""
    found = [v for v in axe_violations(page) if v["impact"] in BLOCKING or v["id"] in ALSO_BLOCKING]
    assert not found, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in found
    )
