"""The 48 systems integrated by the city digital platform (pure data).

Each system is a device of kind `platform` (`ioc/v1/platform/sys-{code}/...`) that sends a
heartbeat every 10 s: calls, errors, errorRate, latencyMs, interfacesUp, interfacesTotal.
The open interfaces of all systems add up to 600+ (the seed document's figure). Their call
volumes are a county-level city's: about 4,600 interface calls a minute across the 48 systems at
office hours, about a fifth of that at night (`patterns.office`).
"""

from __future__ import annotations

from dataclasses import dataclass

HEARTBEAT_S = 10.0


@dataclass(frozen=True)
class PlatformSystem:
    code: str
    name_zh: str
    name_en: str
    interfaces: int  # open interfaces registered on the platform
    calls: int  # typical interface calls per minute at office hours (all 48: ~4,600/min by day)
    latency_ms: float  # typical mean latency

    @property
    def device_id(self) -> str:
        return f"sys-{self.code}"


SYSTEMS: tuple[PlatformSystem, ...] = tuple(
    PlatformSystem(*row)
    for row in (
        ("szcg", "数字城管", "Digital city management", 24, 90, 45),
        ("12345", "12345政务热线", "12345 government hotline", 18, 70, 60),
        ("zhjt", "智慧交通", "Smart transport", 30, 240, 35),
        ("sthj", "生态环境监测", "Eco-environment monitoring", 22, 80, 55),
        ("spgx", "视频共享平台", "Video sharing platform", 36, 300, 80),
        ("wlw", "物联网感知平台", "IoT sensing platform", 40, 500, 25),
        ("yjzh", "应急指挥", "Emergency command", 20, 40, 50),
        ("zhsw", "智慧水务", "Smart water", 18, 60, 40),
        ("dsj", "城市大数据平台", "City big data platform", 45, 420, 70),
        ("ai", "人工智能算法中台", "AI algorithm platform", 28, 150, 120),
        ("rhtx", "融合通信", "Converged communications", 12, 30, 30),
        ("sk", "时空信息平台", "Spatio-temporal information platform", 26, 130, 65),
        ("tyyh", "统一用户中心", "Unified user system", 10, 110, 20),
        ("zwfw", "政务服务网", "Government online services", 25, 160, 90),
        ("xlgc", "雪亮工程", "Xueliang public video project", 20, 120, 85),
        ("zhtc", "智慧停车", "Smart parking", 14, 90, 30),
        ("zhld", "智慧路灯", "Smart street lighting", 10, 50, 25),
        ("zhyl", "智慧医疗", "Smart healthcare", 16, 70, 75),
        ("zhjy", "智慧教育", "Smart education", 12, 40, 70),
        ("zhsq", "智慧社区", "Smart communities", 14, 60, 55),
        ("wgzl", "网格化社会治理", "Grid-based social governance", 16, 65, 60),
        ("scjg", "市场监管", "Market supervision", 10, 30, 80),
        ("aqsc", "安全生产监管", "Work safety supervision", 12, 35, 65),
        ("zhxf", "智慧消防", "Smart fire protection", 12, 40, 40),
        ("qxfw", "气象服务", "Meteorological service", 8, 25, 50),
        ("slfx", "水利防汛", "Flood control", 14, 45, 45),
        ("gkwl", "港口物流", "Port logistics", 15, 80, 95),
        ("zhgd", "智慧工地", "Smart construction sites", 10, 35, 60),
        ("ljfl", "垃圾分类", "Waste sorting", 8, 25, 50),
        ("hwzy", "环卫作业", "Sanitation operations", 8, 30, 45),
        ("zhyq", "智慧园区", "Smart industrial parks", 10, 40, 55),
        ("ggjt", "公共交通", "Public transit", 12, 100, 35),
        ("dzzw", "电子政务外网", "E-government network", 6, 20, 15),
        ("ggxy", "公共信用信息", "Public credit information", 10, 50, 75),
        ("rkk", "人口基础库", "Population database", 8, 90, 30),
        ("frk", "法人基础库", "Legal entity database", 8, 60, 30),
        ("zrzy", "自然资源和规划", "Natural resources and planning", 12, 35, 110),
        ("zjfw", "住房和城乡建设", "Housing and construction", 10, 30, 85),
        ("wsjk", "卫生健康", "Health commission", 10, 45, 70),
        ("mzfw", "民政服务", "Civil affairs", 6, 20, 60),
        ("whly", "文旅服务", "Culture and tourism", 8, 35, 65),
        ("zhny", "智慧农业", "Smart agriculture", 8, 15, 55),
        ("nyjc", "能源监测", "Energy monitoring", 10, 60, 40),
        ("rqaq", "燃气安全", "Gas safety", 8, 30, 35),
        ("ywtg", "一网统管", "Unified city operations", 20, 180, 50),
        ("zhzf", "综合行政执法", "Comprehensive law enforcement", 10, 40, 65),
        ("wdzjg", "我的张家港APP", "My Zhangjiagang citizen app", 14, 200, 85),
        ("sjgx", "数据共享交换平台", "Data sharing and exchange", 30, 350, 45),
    )
)

assert len(SYSTEMS) == 48
assert len({s.code for s in SYSTEMS}) == 48


def total_interfaces() -> int:
    return sum(s.interfaces for s in SYSTEMS)
