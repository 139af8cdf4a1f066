"""The city's street-lighting schedule (pure): lamps on from 18:00 to 06:00 local time, each
lamp's controller switching within ±12 minutes of that (the hour from `ioc.domain.clock.local_hour`). The simulators switch their lamps by
it and the big screen judges the 路灯亮灯率 card by it: by day no lamp is scheduled on, so a
0 % share lit says nothing and the card says "off by day" instead."""

from __future__ import annotations

ON_AT_H = 18.0  # local hour the lamps switch on
OFF_AT_H = 6.0  # local hour they switch off
CONTROLLER_SPREAD_H = 0.2  # each controller switches up to this many hours early or late

def scheduled_on(hour: float, shift_h: float = 0.0) -> bool:
    """Whether a lamp whose controller is shifted by `shift_h` hours is on at local `hour`."""
    return hour >= ON_AT_H + shift_h or hour < OFF_AT_H + shift_h


def period(hour: float) -> str:
    """"on" when every lamp is scheduled on, "off" when none is, "switching" in between."""
    if OFF_AT_H + CONTROLLER_SPREAD_H <= hour < ON_AT_H - CONTROLLER_SPREAD_H:
        return "off"
    if hour >= ON_AT_H + CONTROLLER_SPREAD_H or hour < OFF_AT_H - CONTROLLER_SPREAD_H:
        return "on"
    return "switching"

