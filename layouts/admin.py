"""The users and API tokens page (/admin, admins only): a users table with an add/edit form,
and a tokens table with a create form. Secrets (passwords, tokens, kiosk links) appear once,
in the `.secret` boxes, right after the change that made them."""

from __future__ import annotations

from dash import dcc, html

from ioc.domain.departments import all_departments
from ioc.domain.geo import CityMap
from ioc.i18n import t
from ioc.views.admin import department_options, role_options

from .grids import ag_grid, screen_height

USER_COLUMNS = (("name", "admin_col_name"), ("display_name", "admin_col_display"), ("roles", "admin_col_roles"),
                ("department", "admin_col_department"), ("status", "admin_col_status"), ("created", "admin_col_created"),
                ("updated", "admin_col_updated"))
TOKEN_COLUMNS = (("id", "admin_col_id"), ("name", "admin_col_token_name"), ("roles", "admin_col_roles"),
                 ("department", "admin_col_department"), ("kiosk", "admin_col_kiosk"), ("created_by", "admin_col_created_by"),
                 ("created", "admin_col_created"), ("status", "admin_col_status"))
HIDDEN = {"display": "none"}
FIELD = {"width": "260px"}


def _columns(spec, lang: str) -> list[dict]:
    return [{"field": field, "headerName": t(key, lang), "minWidth": 90} for field, key in spec]


def _grid(grid_id: str, spec, lang: str, row_id: str):
    return ag_grid(grid_id, _columns(spec, lang), lang, t("admin_no_rows", lang),
                   {"rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}},
                   getRowId=f"params.data.{row_id}", defaultColDef={"sortable": True, "resizable": True, "filter": True},
                   style={"height": screen_height(34)})


def _dropdown(element_id: str, options: list[dict], placeholder: str, multi: bool = False) -> dcc.Dropdown:
    return dcc.Dropdown(id=element_id, options=options, value=[] if multi else None, multi=multi, placeholder=placeholder,
                        className="dash-dropdown", style={"minWidth": "260px"})


def admin_page(lang: str, city: CityMap) -> html.Div:
    roles = role_options(lang)
    departments = department_options(all_departments(city), lang)
    users = html.Section(
        [
            html.H3(t("admin_users", lang)),
            _grid("admin-users-grid", USER_COLUMNS, lang, "name"),
            html.Div(
                [
                    dcc.Input(id="admin-user-name", placeholder=t("admin_name", lang), maxLength=40, autoComplete="off", style=FIELD),
                    dcc.Input(id="admin-user-display", placeholder=t("admin_display", lang), maxLength=40, autoComplete="off", style=FIELD),
                    _dropdown("admin-user-roles", roles, t("admin_roles", lang), multi=True),
                    _dropdown("admin-user-department", departments, t("admin_department", lang)),
                    dcc.Input(id="admin-user-password", type="password", placeholder=t("admin_password", lang), maxLength=128,
                              autoComplete="new-password", style=FIELD),
                ],
                className="form-row",
            ),
            html.Div(
                [
                    html.Button(t("admin_add", lang), id="admin-user-add", n_clicks=0, className="btn"),
                    html.Span([f"{t('admin_selected', lang)}: ", html.B(t("admin_none_selected", lang), id="admin-user-selected")]),
                    html.Button(t("admin_save", lang), id="admin-user-save", n_clicks=0, className="btn"),
                    html.Button(t("admin_enable", lang), id="admin-user-enable", n_clicks=0, className="btn"),
                    html.Button(t("admin_reset", lang), id="admin-user-reset", n_clicks=0, className="btn"),
                    html.Button(t("admin_disable", lang), id="admin-user-disable", n_clicks=0, className="btn danger"),
                ],
                className="form-row",
            ),
            html.P(t("admin_edit_note", lang), className="note"),
            html.Div(id="admin-user-message", className="message"),
            html.Div(id="admin-user-secret", className="secret", style=HIDDEN),
            dcc.Store(id="admin-users-changed", data=0),
        ],
        className="admin-users",
    )
    tokens = html.Section(
        [
            html.H3(t("admin_tokens", lang)),
            _grid("admin-tokens-grid", TOKEN_COLUMNS, lang, "id"),
            html.Div(
                [
                    dcc.Input(id="admin-token-name", placeholder=t("admin_token_name", lang), maxLength=60, autoComplete="off", style={"width": "320px"}),
                    _dropdown("admin-token-roles", roles, t("admin_roles", lang), multi=True),
                    _dropdown("admin-token-department", departments, t("admin_department", lang)),
                    dcc.Checklist(id="admin-token-kiosk", value=[], options=[{"label": t("admin_token_kiosk", lang), "value": "kiosk"}],
                                 labelStyle={"color": "#dbe7f5"}, inputStyle={"marginRight": "6px"}),
                ],
                className="form-row",
            ),
            html.Div(
                [
                    html.Button(t("admin_token_create", lang), id="admin-token-create", n_clicks=0, className="btn"),
                    html.Span([f"{t('admin_selected_token', lang)}: ", html.B(t("admin_none_selected", lang), id="admin-token-selected")]),
                    html.Button(t("admin_token_revoke", lang), id="admin-token-revoke", n_clicks=0, className="btn danger"),
                ],
                className="form-row",
            ),
            html.Div(id="admin-token-message", className="message"),
            html.Div(id="admin-token-secret", className="secret", style=HIDDEN),
            dcc.Store(id="admin-tokens-changed", data=0),
        ],
        className="admin-tokens",
    )
    refresh = html.Div([html.Button(t("admin_refresh", lang), id="admin-refresh", n_clicks=0, className="btn"),
                        html.Span(id="admin-load-message", className="message")], className="form-row")
    return html.Div([html.H2(t("admin_heading", lang)), html.P(t("admin_note", lang), className="note"), refresh, users, tokens],
                    className="admin-page", id="admin-page")
