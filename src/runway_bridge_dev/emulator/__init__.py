"""A local emulator of Runway's API (dev-only): real HTTP, real media, seeded task lifecycles and
injectable faults. See README.md, "Runway emulator"."""

from __future__ import annotations

from runway_bridge_dev.emulator.config import EmulatorConfig
from runway_bridge_dev.emulator.server import RunwayEmulator

__all__ = ["EmulatorConfig", "RunwayEmulator"]
