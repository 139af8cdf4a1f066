"""The words of the simulated department systems working linked-event tasks (pure data).

What a department's duty desk writes back to the operations center while it works its part of a
linked event (大联动): its progress reports (`report`, in order, as the situation develops), the
closing note (`done`), what it asks for when it needs help (`support`), and the short notes of
acknowledging, arriving and starting. Keys are `(plan, department)`, `territory` standing for the
district governments (`town_*`); `(None, department)` and `(None, None)` are the fallbacks.
`{name}` placeholders are filled per task from `values()` (the same numbers in all of a task's
notes).
"""

from __future__ import annotations

import random

TERRITORY = "territory"


def department_key(department: str) -> str:
    return TERRITORY if department.startswith("town_") else department


def values(rng: random.Random) -> dict:
    """The numbers of one task's notes."""
    return {
        "pumps": rng.randint(2, 6), "sluices": rng.randint(2, 4), "flow": rng.randint(8, 25),
        "drop": rng.randint(8, 25), "trucks": rng.randint(2, 5), "points": rng.randint(4, 12),
        "people": rng.randint(30, 260), "teams": rng.randint(2, 5), "staff": rng.randint(12, 60),
        "roads": rng.randint(2, 6), "buses": rng.randint(4, 16), "sites": rng.randint(3, 9),
        "samples": rng.randint(4, 10), "cod": rng.randint(35, 60), "km": rng.randint(2, 6),
        "boxes": rng.randint(3, 12), "trees": rng.randint(3, 15), "shelters": rng.randint(1, 3),
        "firms": rng.randint(3, 8), "tons": rng.randint(2, 8), "depth": rng.randint(20, 45),
    }


ACKNOWLEDGE_NOTES = ("已签收，正在调集力量", "已签收，值班人员正赶赴现场", "收到任务，立即组织处置")
LATE_ACKNOWLEDGE_NOTES = ("已签收（值班人员在外巡查，签收延迟）", "已签收（值班电话占线，未及时签收）",
                          "已签收（系统消息未及时查看，签收延迟）")
ARRIVE_NOTES = ("处置人员已到达现场", "已到场，正在摸排现场情况", "带队负责人已到现场")
START_NOTES = ("开始处置", "已展开处置", "现场处置开始")

# (plan, department) -> the progress reports, in order
REPORTS: dict[tuple[str | None, str | None], tuple[str, ...]] = {
    ("flood", "water_affairs"): (
        "已开启{pumps}座排涝泵站，{sluices}座闸站预降水位，河道水位仍在上涨",
        "排涝泵站满负荷运行，排涝流量约{flow}立方米每秒，水位涨势趋缓",
        "河道水位开始回落，已低于最高水位{drop}厘米",
        "水位持续回落，泵站保持运行，继续加密监测",
    ),
    ("flood", "urban_management"): (
        "已出动抽排车{trucks}台，对{points}处低洼积水点抽排",
        "下穿通道积水深约{depth}厘米，正在抽排，已清理雨水口{sites}处",
        "大部分积水点已退水，剩余点位继续抽排",
    ),
    ("flood", TERRITORY): (
        "已组织{staff}名镇村干部巡查低洼地区，排查危房和地下空间",
        "已转移受威胁群众{people}人，开放临时安置点{shelters}处",
        "安置点秩序良好，继续巡查低洼片区",
    ),
    ("flood", "transport"): (
        "已对{roads}处积水路段实施交通管制，设置绕行指示",
        "已调整{buses}条公交线路绕行积水路段，运行正常",
        "积水路段逐步恢复通行，继续疏导",
    ),
    ("flood", "public_security"): (
        "已派出警力{staff}人，在积水路段维持秩序",
        "抢险通道保持畅通，协助转移群众{people}人",
        "现场秩序平稳，未发生次生事故",
    ),
    ("flood", "housing_construction"): (
        "已通知在建工地停止室外作业，排查基坑{sites}处",
        "地下车库和基坑排水正常，未发现险情",
    ),
    ("flood", "street_lighting"): (
        "已对积水区域{boxes}台箱变断电排险",
        "积水区域路灯已全部断电，设置警示标志，无漏电隐患",
    ),
    ("flood", "landscaping"): (
        "已清理倒伏树木{trees}棵，恢复道路通行",
        "行道树加固完毕，继续巡查",
    ),
    ("flood", "market_regulation"): (
        "已检查{firms}家超市和农贸市场，防汛物资与生活必需品供应充足",
        "主要商品价格稳定，未发现哄抬物价",
    ),
    ("water_pollution", "ecology_environment"): (
        "已在排口上下游布设{samples}个采样点，COD明显超标",
        "溯源排查锁定涉事企业，已责令立即停止排放",
        "下游断面COD降至{cod}mg/L，污染带范围缩小",
        "水质持续好转，继续加密监测",
    ),
    ("water_pollution", "water_affairs"): (
        "已关闭下游{sluices}座闸门控制污染扩散",
        "正在调水稀释，沿线取水口未受影响",
        "水体稀释效果明显，闸门保持调度",
    ),
    ("water_pollution", TERRITORY): (
        "已排查沿河企业{firms}家，锁定疑似排污企业",
        "已协助封堵排污口，企业已停产整改",
    ),
    ("water_pollution", "public_security"): (
        "已对涉事企业现场固定证据，控制相关人员",
        "现场警戒已撤除，案件移交侦办",
    ),
    ("water_pollution", "market_regulation"): (
        "已检查涉事企业生产经营情况，责令停产",
        "企业已停产，相关材料已封存",
    ),
    ("water_pollution", "urban_management"): (
        "已出动保洁船{trucks}艘，沿河清捞漂浮物",
        "已清捞死鱼及漂浮物约{tons}吨，河面基本清洁",
    ),
    ("water_pollution", "housing_construction"): (
        "已排查污水管网{km}公里，发现错接混排点{sites}处",
        "错接点已封堵，泵站运行正常",
    ),
    ("crowd", "public_security"): (
        "已增派警力{staff}人，在出入口实施单向通行",
        "现场已限流，人员密度逐步下降",
        "人流有序疏散，现场秩序良好",
        "人员基本散去，保留警力值守",
    ),
    ("crowd", "transport"): (
        "已加开接驳公交{buses}班次，疏运散场人流",
        "公交站台秩序正常，候车人数明显减少",
        "疏运基本完成，公交恢复正常班次",
    ),
    ("crowd", TERRITORY): (
        "已组织志愿者{staff}人现场引导，开启应急广播",
        "人员疏导有序，未发生拥挤踩踏",
        "现场引导持续，志愿者分批撤离",
    ),
    ("crowd", "urban_management"): (
        "已清理占道经营{sites}处，设置临时隔离设施",
        "疏散通道保持畅通",
    ),
    ("crowd", "street_lighting"): ("现场及疏散通道照明正常，已安排人员值守",),
    ("crowd", "housing_construction"): ("已检查临时搭建舞台和看台{sites}处，结构安全",),
    ("crowd", "landscaping"): ("已开放周边公园绿地{sites}处分流人群",),
    ("crowd", "market_regulation"): ("已检查现场餐饮摊点{firms}家，食品安全与价格正常",),
    ("hazmat", "ecology_environment"): (
        "已布设{samples}个监测点，划定污染与警戒范围",
        "泄漏物已围堵，周边空气与水体监测正常",
        "泄漏物正在收集转运，监测数据持续达标",
        "现场清理基本完成，继续监测",
    ),
    ("hazmat", "public_security"): (
        "已设置警戒区，疏散周边人员{people}人，控制涉事车辆和人员",
        "警戒区管控有序，无人员伤亡",
        "警戒范围缩小，逐步恢复秩序",
    ),
    ("hazmat", TERRITORY): (
        "已转移安置周边群众{people}人，开放应急避难场所{shelters}处",
        "安置群众情绪稳定，生活保障到位",
    ),
    ("hazmat", "transport"): (
        "已封闭事故路段，组织车辆绕行",
        "危化品罐车倒罐转运中",
        "转运完毕，事故路段准备恢复通行",
    ),
    ("hazmat", "urban_management"): (
        "已调集吸附材料{tons}吨，协助围堵泄漏物",
        "泄漏物围堵完成，正在清理路面",
    ),
    ("hazmat", "water_affairs"): ("已关闭周边{sluices}座闸门，泄漏物未进入河道",),
    ("hazmat", "housing_construction"): ("已排查周边建筑与燃气管线，未发现安全隐患",),
    ("hazmat", "market_regulation"): ("已检查涉事危化品经营与运输单位，相关资质材料已调取",),
    (None, "water_affairs"): ("已组织力量现场处置，水情平稳", "处置持续进行，继续监测"),
    (None, "public_security"): ("已派出警力现场维持秩序", "现场秩序平稳"),
    (None, "transport"): ("已组织交通疏导", "道路通行有序"),
    (None, TERRITORY): ("已组织镇村力量现场处置", "现场情况平稳，继续巡查"),
    (None, None): ("已组织力量现场处置", "处置持续进行，现场情况平稳", "处置进展顺利，继续跟进"),
}

# (plan, department) -> the closing note
DONE_NOTES: dict[tuple[str | None, str | None], str] = {
    ("flood", "water_affairs"): "已开启{pumps}座排涝泵站，河道水位回落至警戒水位以下，险情解除，泵站转入常态运行",
    ("flood", "urban_management"): "{points}处积水点已全部抽排完毕，道路恢复通行，雨水口清理完成",
    ("flood", TERRITORY): "低洼地区巡查完毕，转移群众{people}人已妥善安置，无人员伤亡",
    ("flood", "transport"): "积水路段已全部恢复通行，公交线路恢复原线运行",
    ("flood", "public_security"): "现场秩序恢复正常，交通管制已解除",
    ("flood", "housing_construction"): "在建工地和地下空间排查完毕，无险情，复工条件待确认",
    ("flood", "street_lighting"): "积水退去后箱变已检测复电，路灯恢复正常",
    ("flood", "landscaping"): "倒伏树木{trees}棵已全部清理，道路畅通",
    ("flood", "market_regulation"): "市场供应充足，价格平稳，未发现违法行为",
    ("water_pollution", "ecology_environment"): "污染源已切断，下游水质恢复达标，转入常态监测",
    ("water_pollution", "water_affairs"): "闸门已恢复正常调度，取水口水质正常",
    ("water_pollution", TERRITORY): "排污口已封堵，涉事企业停产整改，已落实属地监管",
    ("water_pollution", "public_security"): "证据已固定，涉事人员已依法处置",
    ("water_pollution", "market_regulation"): "涉事企业已停产整改，依法立案调查",
    ("water_pollution", "urban_management"): "沿河漂浮物和死鱼清捞完毕，河面恢复整洁",
    ("water_pollution", "housing_construction"): "错接混排点已全部封堵，管网运行正常",
    ("crowd", "public_security"): "人员已安全疏散，现场秩序恢复正常，限流措施解除",
    ("crowd", "transport"): "散场人流疏运完毕，公交恢复正常运营",
    ("crowd", TERRITORY): "现场引导结束，志愿者已撤离，无拥挤踩踏发生",
    ("crowd", "urban_management"): "临时隔离设施已拆除，现场清理完毕",
    ("crowd", "street_lighting"): "照明保障完成，设施运行正常",
    ("crowd", "housing_construction"): "临时设施检查完毕，未发现结构隐患",
    ("crowd", "landscaping"): "分流用公园绿地已恢复常态管理",
    ("crowd", "market_regulation"): "现场食品安全与价格检查完毕，未发现问题",
    ("hazmat", "ecology_environment"): "泄漏物已全部收集转运，周边环境监测达标，警戒解除",
    ("hazmat", "public_security"): "警戒区已撤除，涉事人员和车辆依法处置",
    ("hazmat", TERRITORY): "转移群众已全部返回，安置点关闭",
    ("hazmat", "transport"): "事故路段清理完毕，恢复通行",
    ("hazmat", "urban_management"): "路面清理完毕，吸附材料已按危废处置",
    ("hazmat", "water_affairs"): "闸门已恢复正常调度，河道水质正常",
    ("hazmat", "housing_construction"): "周边建筑和燃气管线排查完毕，无隐患",
    ("hazmat", "market_regulation"): "涉事单位检查完毕，依法立案调查",
    (None, None): "处置完毕，现场恢复正常",
}

# (plan, department) -> what it asks for when it needs support
SUPPORT_NOTES: dict[tuple[str | None, str | None], str] = {
    ("flood", "transport"): "积水路段较多，请求公安交警协助分流",
    ("flood", "urban_management"): "下穿通道积水较深，现有抽排车不足，请求水务局增派移动泵车2台",
    ("flood", TERRITORY): "需转移群众较多，请求公安协助疏散并调派转移车辆",
    ("flood", "public_security"): "管控路段多，警力不足，请求交通局协助设置绕行指示",
    ("flood", "housing_construction"): "工地基坑进水较多，请求水务局协助抽排",
    ("flood", "street_lighting"): "积水区域箱变较多，请求城管局协助设置警戒",
    ("water_pollution", TERRITORY): "涉事企业较多，请求市场监管局协助排查",
    ("water_pollution", "water_affairs"): "需联合调度下游闸门，请求属地政府协助通知沿河取水单位",
    ("water_pollution", "urban_management"): "漂浮物较多，保洁船不足，请求水务局协助拦截",
    ("crowd", "transport"): "散场客流集中，公交运力不足，请求公安协助维持站台秩序",
    ("crowd", TERRITORY): "引导人员不足，请求城管局增派人员协助疏导",
    ("crowd", "urban_management"): "占道摊点较多，请求公安协助清理",
    ("hazmat", "transport"): "事故车辆需吊装转运，请求公安协助封控并联系专业救援队",
    ("hazmat", "urban_management"): "吸附材料不足，请求生态环境局调拨应急物资",
    ("hazmat", TERRITORY): "需转移群众较多，请求交通局调派转移车辆",
    (None, None): "现场处置力量不足，请求增派人员支援",
}

# plan -> the departments that ask for support first (the first one with a task in the event asks)
SUPPORT_ASKERS: dict[str, tuple[str, ...]] = {
    "flood": ("transport", "urban_management", TERRITORY, "public_security"),
    "water_pollution": (TERRITORY, "water_affairs", "urban_management"),
    "crowd": ("transport", TERRITORY, "urban_management"),
    "hazmat": ("transport", "urban_management", TERRITORY),
}

INSTRUCTION_NOTES = ("收到批示，坚决落实", "收到，立即按批示要求部署", "已传达批示精神，抓好落实")


def lookup(table: dict, plan: str, department: str):
    key = department_key(department)
    for k in ((plan, key), (None, key), (None, None)):
        if k in table:
            return table[k]
    return None
