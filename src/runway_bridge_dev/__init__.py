"""runway-bridge dev tools: Runway emulator, local AWS runtime, CLI. Never shipped to Lambda."""
