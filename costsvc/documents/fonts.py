"""Fonts the PDF embeds, all from PyPI packages (no system fonts: ``make run`` works on
a bare machine with only Python).

- Noto Sans (``fontpkg-noto-sans``, SIL OFL 1.1) sets every Latin, Latin Extended and
  Vietnamese name ("Nguyễn Văn Anh", "Zoë Łukasz") and all the document's own text.
  The package ships one variable font; fpdf2 would instantiate it on every document
  (seconds) and subset 600 KB on every output, so it is prepared once: subset to
  the scripts below, instantiated at regular (400) and bold (700) weight, and
  cached as two small static TTFs (~70 KB each) in a cache folder.
- WenQuanYi Micro Hei (``paperang-p2-fonts-cjk``, Apache 2.0 / GPLv3 with font
  exception) is the fallback for the rest: Chinese, Japanese and Korean, Greek,
  Cyrillic.  It has 35,000 glyphs in 5 MB: fpdf2 would spend most of a second
  parsing it for each document.  It is parsed once per process instead, and each
  document that needs it gets a font of just its few characters (milliseconds).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Any

import msgspec

# Basic Latin, Latin-1, Latin Extended A and B, combining marks, Latin Extended
# Additional (Vietnamese), punctuation and the euro and dollar signs: what names in
# Latin script and the document's own text use.  Every glyph kept costs time on
# every document (fpdf2 parses and subsets the font each time), so other scripts
# (Greek, Cyrillic, CJK...) come from the fallback font, when a name needs them.
UNICODE_RANGES = (
    (0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x1E00, 0x1EFF), (0x2010, 0x2027), (0x2030, 0x203A),
    (0x20AC, 0x20AC),
)
WEIGHTS = {"regular": 400, "bold": 700}
PREPARATION = 3  # bump when _build_static changes: a new cache folder


class FontFiles(msgspec.Struct, frozen=True):
    regular: str
    bold: str
    cjk: str
    covered: frozenset[int]  # code points the Noto subset has glyphs for


def _noto_source() -> Path:
    return Path(str(files("fontpkg_noto_sans") / "files" / "NotoSans[wdth,wght].ttf"))


def _cjk_source() -> str:
    return str(files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc")


def _cache_dir() -> Path:
    key = hashlib.sha256(repr((version("fontpkg-noto-sans"), version("fonttools"), UNICODE_RANGES,
                               WEIGHTS, PREPARATION)).encode()).hexdigest()[:16]
    base = os.environ.get("COSTSVC_FONT_CACHE") or os.path.join(tempfile.gettempdir(), "costsvc-fonts")
    return Path(base) / key


def _build_static(source: Path, weight: int, target: Path) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.varLib import instancer

    font = TTFont(source)
    options = subset.Options()
    # fpdf2 sets text without shaping (every character a precomposed glyph, Vietnamese
    # included), so layout tables and hinting only cost time on every output.
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF"]
    options.hinting = False
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[c for lo, hi in UNICODE_RANGES for c in range(lo, hi + 1)])
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    buffer.seek(0)
    static = instancer.instantiateVariableFont(TTFont(buffer), {"wght": weight, "wdth": 100})
    # Written aside and renamed: a process reading the cache never sees half a font.
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(handle)
    static.save(temporary)
    os.replace(temporary, target)


@lru_cache(maxsize=1)
def font_files() -> FontFiles:
    """The prepared fonts (built on first use, a few seconds; then read from the cache)."""
    from fontTools.ttLib import TTFont

    folder = _cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, weight in WEIGHTS.items():
        path = folder / f"NotoSans-{name}.ttf"
        if not path.exists():
            _build_static(_noto_source(), weight, path)
        paths[name] = str(path)
    covered = frozenset(TTFont(paths["regular"], lazy=True).getBestCmap())
    return FontFiles(regular=paths["regular"], bold=paths["bold"], cjk=_cjk_source(), covered=covered)


_fallback_lock = threading.Lock()  # fontTools loads glyphs lazily: one builder at a time


@lru_cache(maxsize=1)
def _fallback_font() -> Any:
    from fontTools.ttLib import TTFont

    return TTFont(_cjk_source(), fontNumber=0, lazy=True)


def fallback_font_file(characters: Iterable[str]) -> str | None:
    """A TrueType file (the caller deletes it) with the fallback font's glyphs for
    ``characters``, or None when it has none of them."""
    from fontTools.fontBuilder import FontBuilder

    with _fallback_lock:
        base = _fallback_font()
        cmap = base.getBestCmap()
        wanted = {ord(ch): cmap[ord(ch)] for ch in set(characters) if ord(ch) in cmap}
        if not wanted:
            return None
        glyf, hmtx = base["glyf"], base["hmtx"]
        names, todo = {".notdef", *wanted.values()}, [*wanted.values()]
        while todo:  # a composite glyph brings its components
            glyph = glyf[todo.pop()]
            if glyph.isComposite():
                for component in glyph.components:
                    if component.glyphName not in names:
                        names.add(component.glyphName)
                        todo.append(component.glyphName)
        order = [".notdef", *sorted(names - {".notdef"})]
        builder = FontBuilder(base["head"].unitsPerEm, isTTF=True)
        builder.setupGlyphOrder(order)
        builder.setupCharacterMap(wanted)
        builder.setupGlyf({name: glyf[name] for name in order})
        builder.setupHorizontalMetrics({name: hmtx[name] for name in order})
        builder.setupHorizontalHeader(ascent=base["hhea"].ascent, descent=base["hhea"].descent)
        builder.setupNameTable({"familyName": "CostsvcFallback", "styleName": "Regular"})
        os2 = base["OS/2"]
        builder.setupOS2(sTypoAscender=os2.sTypoAscender, sTypoDescender=os2.sTypoDescender,
                         usWinAscent=os2.usWinAscent, usWinDescent=os2.usWinDescent)
        builder.setupPost()
        handle, path = tempfile.mkstemp(prefix="costsvc-fallback-", suffix=".ttf")
        with os.fdopen(handle, "wb") as f:
            builder.save(f)
    return path
