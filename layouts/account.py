"""One's own account (/account, every role): who I am, change my password."""

from __future__ import annotations

from dash import dcc, html

from ioc.i18n import t


def account_page(lang: str) -> html.Div:
    return html.Div(
        [
            html.H2(t("account_heading", lang)),
            html.Dl(id="account-facts", className="account-facts"),
            html.Div(
                [
                    dcc.Input(id="password-current", type="password", placeholder=t("password_current", lang), maxLength=128,
                              autoComplete="current-password"),
                    dcc.Input(id="password-new", type="password", placeholder=t("password_new", lang), maxLength=128,
                              autoComplete="new-password"),
                    html.Button(t("password_change", lang), id="password-change", n_clicks=0, className="btn"),
                ],
                className="form-row", id="password-form",
            ),
            html.Div(id="account-message", className="message"),
        ],
        className="account-page", id="account-page",
    )
