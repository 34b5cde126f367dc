"""One way to run schemathesis (its CLI, v4) for the API-contract tests: no-5xx check only, seeded,
one worker, no example database, from a fresh directory so no stray config changes the run and
nothing is written into the repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def assert_no_server_error(
    schema: str,
    *,
    base_url: str,
    api_key: str,
    max_examples: int,
    seed: int,
    request_timeout_s: float,
    cwd: Path,
    timeout_s: float,
) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", schema,
        "--url", base_url,
        "--header", f"Authorization: Bearer {api_key}",
        "--checks", "not_a_server_error",
        "--max-examples", str(max_examples),
        "--seed", str(seed),
        "--workers", "1",
        "--generation-database", "none",
        "--request-timeout", str(request_timeout_s),
        "--no-color",
    ]  # fmt: skip
    run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False)
    print(run.stdout[-8000:])  # shown with -s or on failure: schemathesis' warnings are worth reading
    assert run.returncode == 0, (
        f"schemathesis found server errors:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    )
