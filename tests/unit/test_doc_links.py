"""Every relative link and image in the README and in docs/ leads somewhere: to a file that
exists and, with a `#fragment`, to a heading of that page (GitHub's anchors)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ioc.settings import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def links(text: str) -> list[str]:
    """The targets of the Markdown links and images of a page, outside code blocks and spans."""
    text = FENCE.sub("", text)
    text = re.sub(r"`[^`\n]*`(?!\])", "", text)  # code spans, but not a link text in backticks
    return LINK.findall(text)


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = anchor(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def test_a_heading_anchor_is_githubs():
    assert anchor("Growing with the city: Redis Cluster, an EMQX cluster, more web hosts") == \
        "growing-with-the-city-redis-cluster-an-emqx-cluster-more-web-hosts"
    assert anchor("JSON API (`/api/v1`)") == "json-api-apiv1"
    assert anchor("`python -m simulators`") == "python--m-simulators"


def test_links_are_found_outside_code():
    text = "see [a](a.md) and ![b](b.png)\n```\n[c](c.md)\n```\n`[d](d.md)` and [`e`](e.md)"
    assert links(text) == ["a.md", "b.png", "e.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif fragment and file.suffix == ".md" and fragment not in anchors(file):
            broken.append(target)
    assert broken == []
