"""Write the web app's icons (ioc/web/field_static/icon-192.png, icon-512.png): a map pin on the
portal's dark blue, drawn here with Pillow (nothing downloaded). The pin stays inside the
centre 80 % so the icons also work as maskable icons.

    .venv/bin/python -m scripts.make_field_icons
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BACKGROUND = (11, 26, 46)  # #0b1a2e, the portal's page colour
RING = (31, 59, 92)  # #1f3b5c, the portal's borders
PIN = (127, 209, 255)  # #7fd1ff, the portal's title colour
SIZES = (192, 512)
OUT = Path(__file__).resolve().parent.parent / "ioc" / "web" / "field_static"


def icon(size: int) -> Image.Image:
    scale = 4  # drawn large, then reduced: smooth edges
    s = size * scale
    image = Image.new("RGB", (s, s), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.ellipse((s * 0.16, s * 0.16, s * 0.84, s * 0.84), outline=RING, width=max(1, s // 40))
    cx, top, r = s / 2, s * 0.24, s * 0.17  # the pin: a circle over a point
    draw.ellipse((cx - r, top, cx + r, top + 2 * r), fill=PIN)
    draw.polygon([(cx - r * 0.86, top + r * 1.5), (cx + r * 0.86, top + r * 1.5), (cx, s * 0.76)], fill=PIN)
    hole = r * 0.42
    draw.ellipse((cx - hole, top + r - hole, cx + hole, top + r + hole), fill=BACKGROUND)
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    for size in SIZES:
        path = OUT / f"icon-{size}.png"
        icon(size).save(path, optimize=True)
        print(path)


if __name__ == "__main__":
    main()
