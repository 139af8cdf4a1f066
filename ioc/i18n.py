"""UI strings in Simplified Chinese (default) and English. One table, looked up by key."""

from __future__ import annotations

LANGS = ("zh", "en")

STRINGS: dict[str, dict[str, str]] = {
    "app_title": {"zh": "张家港市城市运行管理中心", "en": "Zhangjiagang City Operations Center"},
    "app_short": {"zh": "城市运行管理中心 IOC", "en": "City IOC"},
    "status_heading": {"zh": "城市数据接入状态", "en": "City data intake"},
    "status_note": {
        "zh": "数据管道运行中。大屏、区镇下钻与统一调度视图将在此门户中提供。",
        "en": "The data pipeline is running. The big screen, district drill-down and dispatch views live in this portal.",
    },
    "devices": {"zh": "接入设备", "en": "Devices"},
    "online": {"zh": "在线设备", "en": "Online"},
    "online_rate": {"zh": "在线率", "en": "Online rate"},
    "accepted": {"zh": "已接收消息", "en": "Messages accepted"},
    "rejected": {"zh": "已拒收消息", "en": "Messages rejected"},
    "alarms_active": {"zh": "当前告警", "en": "Active alarms"},
    "by_kind": {"zh": "按设备类型", "en": "By device kind"},
    "updated": {"zh": "更新时间", "en": "Updated"},
    "data_unavailable": {"zh": "数据源暂不可用，正在重试…", "en": "Data source unavailable, retrying…"},
    "language": {"zh": "English", "en": "中文"},
    "severity_critical": {"zh": "紧急", "en": "Critical"},
    "severity_major": {"zh": "重要", "en": "Major"},
    "severity_minor": {"zh": "一般", "en": "Minor"},
}


def t(key: str, lang: str = "zh") -> str:
    entry = STRINGS[key]
    return entry.get(lang) or entry["zh"]
