"""Screenshots of pages at phone and desktop size, for a reviewer who does not run the stack.

Written into var/screenshots/ (git-ignored) on every run, so running the tests never changes
tracked files; `make screenshots` writes the committed set into docs/screenshots/ instead
(FASHIONSITE_SCREENSHOTS names the folder). Each is the first screen, what a visitor sees before
scrolling (callers add one after scrolling where the rest matters), reduced to a 64-colour
palette: a few tens of KB each.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image
from playwright.sync_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def folder() -> Path:
    path = Path(os.environ.get("FASHIONSITE_SCREENSHOTS") or ROOT / "var" / "screenshots")
    if not path.is_absolute():
        path = ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


def shoot(page, name: str, size: str) -> Path:
    """Save what the viewport shows as `<name>-<size>.png` (size "phone" or "desktop")."""
    try:
        png = page.screenshot(animations="disabled")
    except PlaywrightError as error:
        # Chromium sometimes refuses a capture while its compositor is busy (a loaded machine):
        # the picture is a by-product of the test, so wait for a frame and take it once more.
        if "Unable to capture screenshot" not in str(error):
            raise
        page.evaluate("() => new Promise(resolve => requestAnimationFrame(() => resolve()))")
        png = page.screenshot(animations="disabled")
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    path = folder() / f"{name}-{size}.png"
    image.save(path, optimize=True)
    return path
