"""One's own account (/account, every role): who I am, change my password.

The password fields are a real form: the browser and password managers know it, Enter in any
field submits it (assets/desk.js keeps the browser from loading a page), and the new password
is typed twice."""

from __future__ import annotations

from dash import dcc, html

from ioc.i18n import t


def _password(element_id: str, label: str, autocomplete: str) -> html.Label:
    return html.Label([html.Span(label), dcc.Input(id=element_id, type="password", maxLength=128, autoComplete=autocomplete)],
                      className="password-field")


def account_page(lang: str) -> html.Div:
    return html.Div(
        [
            html.H2(t("account_heading", lang)),
            html.Dl(id="account-facts", className="account-facts"),
            html.Form(
                [
                    # the account's name, for the browser's password manager (not shown)
                    dcc.Input(id="password-user", type="text", autoComplete="username", readOnly=True, style={"display": "none"}),
                    _password("password-current", t("password_current", lang), "current-password"),
                    _password("password-new", t("password_new", lang), "new-password"),
                    _password("password-confirm", t("password_confirm", lang), "new-password"),
                    html.Button(t("password_change", lang), id="password-change", n_clicks=0, type="submit", className="btn"),
                ],
                className="password-form dash-form", id="password-form",
            ),
            html.Div(id="account-message", className="message"),
        ],
        className="account-page", id="account-page",
    )
