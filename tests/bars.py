"""Read back the Draw page's HTML probability bars (`app_ui.reading_views`), as a
browser would lay them out: strips, their titles, each bar's digit, probability, the
height of its fill and whether it is highlighted."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from app_ui.reading_views import BAR_CLASS, BARS_CLASS, HIGHLIGHT


@dataclass
class Strip:
    title: str | None = None
    digits: list[int] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    fill_percent: list[float] = field(default_factory=list)
    column_px: list[int] = field(default_factory=list)
    highlighted: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__()
        self.strips: list[Strip] = []
        self.depth_in_bar = 0
        self.in_title = False
        self.text_target = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        style = attrs.get("style") or ""
        if BARS_CLASS in classes:
            self.strips.append(Strip())
        elif self.strips and "font-weight:600" in style and not self.depth_in_bar:
            self.in_title = True
        if BAR_CLASS in classes:
            strip = self.strips[-1]
            strip.digits.append(int(attrs["data-digit"]))
            strip.probabilities.append(float(attrs["data-probability"]))
            self.depth_in_bar = 1
            self.spans = 0
            return
        if self.depth_in_bar:
            if tag == "div":
                self.depth_in_bar += 1
                height = re.search(r"(?<![-\w])height:([\d.]+)(px|%)", style)
                if height and height[2] == "px":
                    self.strips[-1].column_px.append(int(float(height[1])))
                elif height:
                    self.strips[-1].fill_percent.append(float(height[1]))
                    if HIGHLIGHT.lower() in style.lower():
                        self.strips[-1].highlighted.append(self.strips[-1].digits[-1])
            elif tag == "span":
                self.spans += 1
                self.text_target = "label" if self.spans == 1 else None
                if self.spans == 1:
                    self.strips[-1].labels.append("")

    def handle_endtag(self, tag):
        if tag == "div" and self.in_title:
            self.in_title = False
        elif tag == "div" and self.depth_in_bar:
            self.depth_in_bar -= 1
        elif tag == "span":
            self.text_target = None

    def handle_data(self, data):
        if self.in_title:
            self.strips[-1].title = (self.strips[-1].title or "") + data
        elif self.text_target == "label":
            self.strips[-1].labels[-1] += data


def read_strips(html: str) -> list[Strip]:
    """Every strip of bars in `html`, in order."""
    reader = _Reader()
    reader.feed(html)
    return reader.strips
