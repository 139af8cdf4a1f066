"""The audit log page (/audit, leaders and admins): filters and a table of entries, newest first."""

from __future__ import annotations

from dash import dcc, html

from ioc.i18n import t

from .grids import ag_grid, screen_height

AUDIT_REFRESH_MS = 10_000
# action filter: prefix -> label key suffix (the first is "all")
ACTION_GROUPS = ("", "auth.", "user.", "token.", "alarm.", "case.", "event.", "roster.", "notify.", "report.", "access.")
COLUMNS = ("time", "actor", "role", "action", "target", "outcome", "ip", "detail")


def audit_columns(lang: str) -> list[dict]:
    widths = {"time": 170, "actor": 170, "role": 150, "action": 170, "target": 200, "outcome": 110, "ip": 130}
    fields = {"action": "action_label"}  # the action's name in the page language
    # a cell too narrow for its text shows it whole on hover
    return [{"field": fields.get(c, c), "headerName": t(f"col_{c}", lang), "tooltipField": fields.get(c, c),
             **({"width": widths[c]} if c in widths else {"flex": 1, "minWidth": 320})}
            for c in COLUMNS]


def audit_page(lang: str) -> html.Div:
    return html.Div(
        [
            html.H2(t("audit_heading", lang)),
            html.P(t("audit_note", lang), className="note"),
            html.Div(
                [
                    dcc.Input(id="audit-actor", placeholder=t("audit_actor", lang), debounce=True, maxLength=80, style={"width": "240px"}),
                    dcc.Dropdown(id="audit-action", value="", clearable=False, className="dash-dropdown",
                                 options=[{"label": t(f"audit_group_{g}", lang) if g else t("audit_all", lang), "value": g}
                                          for g in ACTION_GROUPS]),
                    html.Button(t("audit_more", lang), id="audit-more", n_clicks=0, className="btn"),
                ],
                className="form-row",
            ),
            dcc.Store(id="audit-before", data=None),
            dcc.Interval(id="audit-tick", interval=AUDIT_REFRESH_MS, n_intervals=0),
            ag_grid("audit-grid", audit_columns(lang), lang, t("admin_no_rows", lang),
                    {"pagination": True, "paginationPageSize": 100}, getRowId="params.data.id",
                    defaultColDef={"sortable": True, "resizable": True, "filter": True}, style={"height": screen_height(70)}),
        ],
        className="audit-page", id="audit-page",
    )
