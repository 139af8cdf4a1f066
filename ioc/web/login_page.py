"""The sign-in page: a plain server-rendered form (no script needed), in Chinese or English."""

from __future__ import annotations

from flask import render_template_string

from ioc.i18n import t

TEMPLATE = """<!doctype html>
<html lang="{{ 'en' if lang == 'en' else 'zh-CN' }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · {{ heading }}</title>
<link rel="stylesheet" href="/assets/login.css">
</head>
<body class="login-body">
<main class="login-card">
  <h1 class="login-title">{{ title }}</h1>
  <h2 class="login-heading">{{ heading }}</h2>
  {% if error %}<div class="login-error" id="login-error" role="alert">{{ error }}{% if retry_after %} ({{ retry_label }}: {{ retry_after }}){% endif %}</div>{% endif %}
  <form method="post" action="/login" class="login-form" id="login-form">
    <input type="hidden" name="csrf" value="{{ csrf }}">
    <input type="hidden" name="next" value="{{ next }}">
    <input type="hidden" name="lang" value="{{ lang }}">
    <label for="login-name">{{ name_label }}</label>
    <input id="login-name" name="name" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="64" required autofocus value="{{ name }}">
    <label for="login-password">{{ password_label }}</label>
    <input id="login-password" name="password" type="password" autocomplete="current-password" maxlength="128" required>
    <button type="submit" id="login-submit">{{ submit }}</button>
  </form>
  <p class="login-note">{{ note }}</p>
  <a class="login-lang" id="login-lang" href="/login?lang={{ other_lang }}{% if next %}&amp;next={{ next | urlencode }}{% endif %}">{{ switch }}</a>
</main>
</body>
</html>
"""


def login_html(lang: str, csrf: str, next_path: str = "", error_key: str = "", name: str = "", retry_after: int = 0) -> str:
    return render_template_string(
        TEMPLATE, lang=lang, title=t("app_title", lang), heading=t("login_heading", lang), csrf=csrf, next=next_path,
        error=t(error_key, lang) if error_key else "", retry_after=retry_after, retry_label=t("login_retry", lang),
        name_label=t("login_name", lang), password_label=t("login_password", lang), submit=t("login_submit", lang),
        note=t("login_note", lang), name=name, other_lang="zh" if lang == "en" else "en", switch=t("language", lang),
    )


def unavailable_html(lang: str) -> str:
    """What a browser sees while Redis (users, sessions, data) cannot be reached."""
    return render_template_string(
        "<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' content='5'>"
        "<link rel='stylesheet' href='/assets/login.css'><title>{{ title }}</title></head>"
        "<body class='login-body'><main class='login-card'><h1 class='login-title'>{{ title }}</h1>"
        "<div class='login-error' role='alert'>{{ message }}</div></main></body></html>",
        title=t("app_title", lang), message=t("data_unavailable", lang))
