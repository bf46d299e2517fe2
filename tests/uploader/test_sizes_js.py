"""The widget's size formatter (strings.js) writes every size as ferry.sizes.human_size does."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from ferry.sizes import human_size

STRINGS_JS = Path(__file__).resolve().parents[2] / "uploader" / "static" / "chat" / "strings.js"

# Edges of each unit and of the one-decimal / no-decimal switch, and sizes the product really shows.
SIZES = [
    0,
    1,
    2,
    999,
    1000,
    1049,
    1050,
    9949,
    9950,
    99_499,
    999_499,
    999_500,
    1_000_000,
    25_000_000,
    26_214_400,
    999_499_999,
    999_500_000,
    5 * 1024**3,
    54 * 10**9,
    2 * 10**12,
    10**16,
]


def test_the_widget_formats_sizes_as_the_core_does() -> None:
    node = shutil.which("node")
    assert node, "make test installs node; the widget's formatter cannot be checked without it"
    script = (
        f"import({json.dumps(STRINGS_JS.as_uri())}).then(m => "
        f"console.log(JSON.stringify({json.dumps(SIZES)}.map(m.formatBytes))))"
    )
    out = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [human_size(size) for size in SIZES]
