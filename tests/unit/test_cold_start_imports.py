"""What a function loads at cold start is what it uses: the authorizer only logs, so importing it must
not make a Tracer (which loads the X-Ray SDK and botocore). A fresh interpreter, as Lambda starts one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
sys.path[:0] = [sys.argv[1]]
import app
from runway_bridge.observability import metrics, tracer
print(sorted(name for name in ("aws_xray_sdk.core",) if name in sys.modules))
"""


def test_the_authorizer_loads_no_tracer_and_the_others_still_get_one() -> None:
    before = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE.replace("from runway_bridge.observability import metrics, tracer\n", ""),
            str(ROOT / "functions" / "authorizer"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert before.stdout.strip() == "[]"
    after = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "functions" / "authorizer")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert after.stdout.strip() == "['aws_xray_sdk.core']"
