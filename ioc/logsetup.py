"""Logging set-up shared by every process: one line per event, process name first."""

from __future__ import annotations

import logging


def setup_logging(level: str, process: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s {process:<9} %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
    )
