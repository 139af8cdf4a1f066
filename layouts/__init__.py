"""Dash layouts: functions that build components, nothing else."""

from .status import root

__all__ = ["root"]
