"""Drawing a job's frames with Pillow: the test pattern above, the job's card below.

    +-------------------------------+
    | colour bars with a box that   |  the pattern: bars, a box crossing them every
    | crosses them, grey ramp       |  4 s, and a grey ramp under them
    +-------------------------------+
    | video_68d7512d07848190b3e4... |  the id, as large as the width allows
    | sora-2  1280x720  8 s         |  model, size, seconds as the job asked
    | from video_...                |  the source, for a remix, edit or extension
    | "A calico cat playing a pi... |  the start of the prompt (two lines at most)
    | 00:01.20  frame 0013/0080     |  the clock and the frame counter
    +-------------------------------+

Text is drawn with the font Pillow ships (ImageFont.load_default), never a system font, so
the pixels depend only on the spec and the Pillow build. Everything static is drawn once into a
background; a frame is a copy of it with the box and the clock line drawn on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from mockserver.render.spec import MediaSpec

RGB = tuple[int, int, int]
# 75% SMPTE-style bars, as the committed fixtures: grey, yellow, cyan, green, magenta, red, blue.
BARS: tuple[RGB, ...] = (
    (191, 191, 191),
    (191, 191, 0),
    (0, 191, 191),
    (0, 191, 0),
    (191, 0, 191),
    (191, 0, 0),
    (0, 0, 191),
)
CARD_BG: RGB = (16, 16, 16)
TEXT: RGB = (235, 235, 235)
DIM_TEXT: RGB = (170, 170, 170)
BOX_FILL: RGB = (255, 255, 255)
BOX_EDGE: RGB = (0, 0, 0)
BOX_PERIOD_S = 4.0  # across and back once every 4 s
LINE_SPACING = 1.3  # line height / font size
PROMPT_LINES = 2
ELLIPSIS = "..."


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int


_fonts = threading.local()


def font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The bundled font at `px`, loaded once per thread.

    Per thread: FreeType allows a face to be used by one thread at a time only, and the render
    threads draw at once; loading parses the font, so each thread keeps the faces it loaded.
    """
    loaded: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = _fonts.__dict__.setdefault("by_size", {})
    face = loaded.get(px)
    if face is None:
        face = loaded[px] = ImageFont.load_default(px)
    return face


def text_line(text: str, px: int, width: int, colour: RGB = TEXT) -> Image.Image:
    """One line of text on the card's background, `width` wide and one line high.

    The frames draw their id line with this; a test compares a decoded frame with it.
    """
    image = Image.new("RGB", (width, line_height(px)), CARD_BG)
    ImageDraw.Draw(image).text((0, 0), text, font=font(px), fill=colour)
    return image


def line_height(px: int) -> int:
    return max(1, round(px * LINE_SPACING))


def _fit(text: str, px: int, width: int) -> str:
    """`text`, cut to end in an ellipsis where it is wider than `width`."""
    face = font(px)
    if face.getlength(text) <= width:
        return text
    while text and face.getlength(text + ELLIPSIS) > width:
        text = text[:-1]
    return text + ELLIPSIS


def _wrap(text: str, px: int, width: int, lines: int) -> list[str]:
    """Up to `lines` lines of `text` broken at spaces; the last one ends in an ellipsis if cut."""
    face, words = font(px), text.split(" ")
    out: list[str] = []
    while words and len(out) < lines:
        line = words.pop(0)
        while words and face.getlength(f"{line} {words[0]}") <= width:
            line = f"{line} {words.pop(0)}"
        out.append(line)
    if words:
        out[-1] = _fit(out[-1] + " " + " ".join(words), px, width - 1)
        if not out[-1].endswith(ELLIPSIS):
            out[-1] = _fit(out[-1] + ELLIPSIS * 2, px, width)
    return [_fit(line, px, width) for line in out]


class Picture:
    """The frames of one spec; `frame(i)` is frame number i (0-based) as an RGB image."""

    def __init__(self, spec: MediaSpec) -> None:
        self.spec = spec
        width, height = spec.width, spec.height
        self.margin = max(1, min(width, height) // 40)
        inner = width - 2 * self.margin
        # The id is the line a viewer reads first: as large as min(w, h) / 24 allows, smaller
        # where the id would not fit the width (narrow portrait frames).
        px = max(6, min(width, height) // 24)
        id_width = font(px).getlength(spec.job_id)
        if id_width > inner:
            px = max(6, int(px * inner / id_width))
        self.px = px
        self.small_px = max(6, px * 3 // 4)
        lines = [(spec.job_id, px, TEXT), (f"{spec.model}  {spec.size}  {spec.seconds} s", self.small_px, DIM_TEXT)]
        if spec.source_id:
            lines.append((_fit(f"from {spec.source_id}", self.small_px, inner), self.small_px, DIM_TEXT))
        if spec.prompt:
            lines += [
                (line, self.small_px, TEXT)
                for line in _wrap(f"\u201c{spec.prompt}\u201d", self.small_px, inner, PROMPT_LINES)
            ]
        card_h = sum(line_height(size) for _, size, _ in lines) + line_height(px) + 2 * self.margin
        self.card_top = max(0, height - card_h)
        self.bars_h = self.card_top * 3 // 4
        self.box_side = max(2, min(width, self.bars_h) // 4)
        self.background = Image.new("RGB", (width, height), CARD_BG)
        draw = ImageDraw.Draw(self.background)
        for i, colour in enumerate(BARS):
            draw.rectangle((i * width // len(BARS), 0, (i + 1) * width // len(BARS) - 1, self.bars_h - 1), fill=colour)
        ramp = Image.linear_gradient("L").rotate(90, expand=True)  # black at the left, white at the right
        if self.card_top > self.bars_h:
            self.background.paste(ramp.resize((width, self.card_top - self.bars_h)).convert("RGB"), (0, self.bars_h))
        y = self.card_top + self.margin
        self.id_box = Box(self.margin, y, width - self.margin, y + line_height(px))
        for text, size, colour in lines:
            self.background.paste(text_line(text, size, inner, colour), (self.margin, y))
            y += line_height(size)
        self.clock_y = y

    def clock(self, index: int) -> str:
        seconds = index / self.spec.fps
        return f"{int(seconds // 60):02d}:{seconds % 60:05.2f}  frame {index + 1:04d}/{self.spec.frames:04d}"

    def frame(self, index: int) -> Image.Image:
        image = self.background.copy()
        draw = ImageDraw.Draw(image)
        if self.bars_h > self.box_side:
            # A triangle wave: left to right and back once per period, so motion is visible.
            phase = (index / self.spec.fps) % BOX_PERIOD_S / BOX_PERIOD_S
            travel = self.spec.width - self.box_side
            x = round(travel * (2 * phase if phase < 0.5 else 2 - 2 * phase))
            y = (self.bars_h - self.box_side) // 2
            edge = max(1, self.box_side // 16)
            draw.rectangle((x, y, x + self.box_side - 1, y + self.box_side - 1), fill=BOX_EDGE)
            draw.rectangle(
                (x + edge, y + edge, x + self.box_side - 1 - edge, y + self.box_side - 1 - edge), fill=BOX_FILL
            )
        draw.text((self.margin, self.clock_y), self.clock(index), font=font(self.px), fill=TEXT)
        return image
