"""Pictures of a share link: the QR code (SVG) and the 1200×630 preview card (PNG).

Preview cards are drawn once per advocate + offer + locale and kept on disk
under DATA_DIR/og/, named by a hash of everything drawn on them, so a changed
offer or name draws a new card and the hash doubles as the ETag.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path

import qrcode
import qrcode.image.svg
from flask import current_app
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

OG_SIZE = (1200, 630)
CARD_VERSION = "3"  # bump when the drawing changes, so cached cards are redrawn
_BREAKS = re.compile(r"[ \t\r\n\f\v]+")
BACKGROUND, ACCENT, INK, MUTED = (248, 246, 241), (31, 111, 84), (31, 35, 40), (87, 96, 106)


def qr_svg(url: str) -> bytes:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> ImageFont.ImageFont:
    """Roboto (ships with the font-roboto package; covers Cyrillic, Polish and Latvian letters),
    else Pillow's built-in scalable font."""
    try:
        import font_roboto

        path = font_roboto.font_files["RobotoBold" if bold else "Roboto"]
        return ImageFont.truetype(path, size)
    except (ImportError, KeyError, OSError):
        return ImageFont.load_default(size=size)


def card_key(*parts: str) -> str:
    return hashlib.sha256("\x00".join((CARD_VERSION, *parts)).encode()).hexdigest()[:32]


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, max_width: int, max_lines: int) -> list[str]:
    lines: list[str] = []
    current = ""
    # Break at ASCII whitespace only: "10 zł" and "10 %" hold their no-break space together.
    for word in _BREAKS.split(text.strip(" \t\r\n\f\v")):
        candidate = f"{current} {word}".strip()
        if draw.textlength(candidate, font=font) <= max_width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(".,;: ") + "…"
    return [_fit(draw, line, font, max_width) for line in lines]


def _fit(draw: ImageDraw.ImageDraw, line: str, font, max_width: int) -> str:
    while line and draw.textlength(line, font=font) > max_width:
        line = line[:-2] + "…"
    return line


def draw_card(headline: str, offer: str, shop: str, cta: str) -> bytes:
    image = Image.new("RGB", OG_SIZE, BACKGROUND)
    draw = ImageDraw.Draw(image)
    width, height = OG_SIZE
    draw.rectangle((0, 0, 24, height), fill=ACCENT)
    margin = 96
    draw.text((margin, 80), _fit(draw, shop, _font(40), width - 2 * margin), font=_font(40), fill=MUTED)
    y = 170
    headline_font = _font(76, bold=True)
    for line in _wrap(draw, headline, headline_font, width - 2 * margin, 3):
        draw.text((margin, y), line, font=headline_font, fill=INK)
        y += 92
    offer_font = _font(120, bold=True)
    draw.text((margin, max(y + 10, 400)), _fit(draw, offer, offer_font, 620), font=offer_font, fill=ACCENT)
    cta_font = _font(36, bold=True)
    cta_text = _fit(draw, cta, cta_font, 380)
    box_width = int(draw.textlength(cta_text, font=cta_font)) + 64
    box = (width - margin - box_width, height - 150, width - margin, height - 72)
    draw.rounded_rectangle(box, radius=16, fill=INK)
    draw.text((box[0] + 32, box[1] + 20), cta_text, font=cta_font, fill=(255, 255, 255))
    # The card's words as text too (PNG iTXt: Title, Description), for tools that cannot read pictures.
    words = PngInfo()
    words.add_itxt("Title", headline)
    words.add_itxt("Description", "\n".join((shop, headline, offer, cta)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True, pnginfo=words)
    return buffer.getvalue()


def cached_card(key: str, draw) -> bytes:
    """The card stored under `key`, drawing (and storing) it on first use."""
    directory = Path(current_app.config["SETTINGS"].data_dir) / "og"
    path = directory / f"{key}.png"
    try:
        return path.read_bytes()
    except OSError:
        pass
    data = draw()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only disk costs a redraw per request, nothing more
    return data
