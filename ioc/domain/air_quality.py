"""Individual air quality index (IAQI) and primary pollutant, after HJ 633-2012.

Live (hourly) reading: the 1-hour breakpoints for NO2, SO2 and O3 and the 24-hour ones for PM2.5
and PM10 (which have no 1-hour column), applied to current concentrations (µg/m³). An
indication for the big screen and the simulators, not the official daily AQI.
"""

from __future__ import annotations

IAQI_STEPS = (0, 50, 100, 150, 200, 300, 400, 500)
BREAKPOINTS = {
    "pm25": (0, 35, 75, 115, 150, 250, 350, 500),
    "pm10": (0, 50, 150, 250, 350, 420, 500, 600),
    "no2": (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    "so2": (0, 150, 500, 650, 800, 1600, 2100, 2620),
    "o3": (0, 160, 200, 300, 400, 800, 1000, 1200),
}
POLLUTANT_NAMES = {"pm25": "PM2.5", "pm10": "PM10", "no2": "NO₂", "so2": "SO₂", "o3": "O₃"}
LEVELS_ZH = ("优", "良", "轻度污染", "中度污染", "重度污染", "严重污染")
LEVELS_EN = ("Excellent", "Good", "Lightly polluted", "Moderately polluted", "Heavily polluted", "Severely polluted")


def iaqi(pollutant: str, concentration: float) -> float:
    bp = BREAKPOINTS[pollutant]
    if concentration <= 0:
        return 0.0
    for i in range(1, len(bp)):
        if concentration <= bp[i]:
            lo, hi = bp[i - 1], bp[i]
            return IAQI_STEPS[i - 1] + (IAQI_STEPS[i] - IAQI_STEPS[i - 1]) * (concentration - lo) / (hi - lo)
    return 500.0


def primary_pollutant(concentrations: dict[str, float]) -> tuple[str | None, float]:
    """(pollutant, its IAQI) with the highest IAQI; None when the AQI would be ≤ 50 (no primary)."""
    best, best_value = None, 0.0
    for name, value in concentrations.items():
        if name in BREAKPOINTS and value is not None:
            v = iaqi(name, value)
            if v > best_value:
                best, best_value = name, v
    return (best if best_value > 50 else None), best_value


def level(aqi: float, lang: str = "zh") -> str:
    names = LEVELS_EN if lang == "en" else LEVELS_ZH
    for i, upper in enumerate((50, 100, 150, 200, 300)):
        if aqi <= upper:
            return names[i]
    return names[-1]
