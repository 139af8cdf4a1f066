"""The photo panel of a case (照片取证): before | after side by side, thumbnails that open the
originals, and an upload (take or choose photos, `image/*`) with the stage they show.

`media_panel(case, lang, prefix, can_upload)` builds it whole for a case at hand; a page that
loads its case by callback lays out `media_panel(None, lang, prefix)` and fills
`<prefix>-gallery` with `gallery_children(case, lang)` and shows `<prefix>-upload-row`.
Ids: `<prefix>-gallery`, `<prefix>-upload-row`, `<prefix>-upload` (dcc.Upload),
`<prefix>-upload-stage` (before / after), `<prefix>-upload-message`.
"""

from __future__ import annotations

from collections.abc import Mapping

from dash import dcc, html

from ioc.domain.media import STAGES, default_stage
from ioc.i18n import t
from ioc.views.media import gallery

HIDDEN = {"display": "none"}


def gallery_children(case, lang: str, people: Mapping[str, str] | None = None) -> list:
    """The before and after columns of the case's photos."""
    columns = gallery(case, lang, people)
    return [
        html.Div(
            [html.Div(t(f"media_{stage}", lang), className="media-stage"),
             html.Div([_thumb(photo, lang) for photo in columns[stage]] or [html.Span(t("media_none", lang), className="note")],
                      className="media-thumbs")],
            className=f"media-column media-{stage}")
        for stage in STAGES
    ]


def _thumb(photo: dict, lang: str):
    return html.Figure(
        [html.A(html.Img(src=photo["thumb"], alt=photo["name"], className="media-thumb"),
                href=photo["href"], target="_blank", rel="noopener", title=t("media_open", lang)),
         html.Figcaption(photo["caption"], className="media-caption")],
        className="media-photo")


def upload_row(prefix: str, lang: str, stage: str = "before", shown: bool = True) -> html.Div:
    return html.Div(
        [
            dcc.RadioItems(id=f"{prefix}-upload-stage", value=stage, inline=True, className="media-stage-choice",
                           options=[{"label": t(f"media_{s}", lang), "value": s} for s in STAGES]),
            dcc.Upload(html.Div(t("media_upload", lang), className="btn media-upload-btn"), id=f"{prefix}-upload",
                       accept="image/*", multiple=True, className="media-upload"),
            html.Div(id=f"{prefix}-upload-message", className="message"),
        ],
        id=f"{prefix}-upload-row", className="media-upload-row", style=None if shown else HIDDEN,
    )


def media_panel(case, lang: str, prefix: str, can_upload: bool = False, people: Mapping[str, str] | None = None) -> html.Div:
    """The panel: heading, the before | after gallery, and the upload row (hidden unless
    `can_upload`: the principal may attach to this case, see `ioc.domain.cases.may_attach`)."""
    stage = default_stage(case.stage) if case is not None else "before"
    return html.Div(
        [
            html.H3(t("media_heading", lang)),
            html.Div(gallery_children(case, lang, people) if case is not None else [], id=f"{prefix}-gallery",
                     className="media-gallery"),
            upload_row(prefix, lang, stage, can_upload),
        ],
        id=f"{prefix}-media-panel", className="media-panel",
    )
