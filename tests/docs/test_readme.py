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


def test_every_file_the_readme_links_to_exists() -> None:
    # Images and documents by relative path (e.g. the console's screenshots in docs/console/).
    linked = set(re.findall(r"\]\(((?:docs|tests|layers|src)/[^)#\s]+)\)", README.read_text()))
    assert linked
    assert sorted(path for path in linked if not (README.parent / path).is_file()) == []
