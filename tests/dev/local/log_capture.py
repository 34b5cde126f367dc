"""One Powertools Logger for every function of the process, as `runway_bridge.observability` is, with
its formatted lines kept (thread, line) for the tests to read."""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.thread or 0, self.format(record)))


collected = _Collect()
logger = Logger(service="log-isolation", logger_handler=collected)
