"""The README's configuration table lists every setting the functions read, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from runway_bridge.settings import BridgeSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_configuration_table_matches_the_settings_model() -> None:
    documented = set(re.findall(r"^\| `(BRIDGE_[A-Z0-9_]+)` \|", README.read_text(), re.MULTILINE))
    expected = {f"BRIDGE_{name.upper()}" for name in BridgeSettings.model_fields}
    assert documented == expected
