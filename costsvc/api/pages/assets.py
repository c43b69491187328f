"""The pages' CSS and JavaScript, served by the service under content-hashed names.

``/assets/site.<hash>.css`` changes name whenever its bytes change, so it can be
cached for a year (``immutable``): a deploy never serves a stale stylesheet, and a
page view after the first costs no asset request.  No build step: the hash is
taken once, when the module is imported, from the files shipped in the package.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

STATIC_DIR = Path(__file__).resolve().parent / "static"
PREFIX = "/assets"
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    url: str


def _hashed_name(path: Path, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()[:12]
    return f"{path.stem}.{digest}{path.suffix}"


def _load(directory: Path) -> tuple[dict[str, Asset], dict[str, Asset]]:
    """(logical name → asset, hashed name → asset) for every file in ``directory``."""
    by_name: dict[str, Asset] = {}
    by_hashed: dict[str, Asset] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        body = path.read_bytes()
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type.endswith("javascript"):
            media_type += "; charset=utf-8"
        hashed = _hashed_name(path, body)
        asset = Asset(body, media_type, f"{PREFIX}/{hashed}")
        by_name[path.name] = by_hashed[hashed] = asset
    return by_name, by_hashed


_BY_NAME, _BY_HASHED = _load(STATIC_DIR)


def asset_url(name: str) -> str:
    """The hashed URL of a file in ``static/`` (a template global: ``{{ asset('site.css') }}``)."""
    try:
        return _BY_NAME[name].url
    except KeyError:
        raise LookupError(f"no asset named {name!r} in {STATIC_DIR}") from None


@get(f"{PREFIX}/{{name:str}}", include_in_schema=False, sync_to_thread=False, name="asset")
def serve_asset(name: FromPath[str]) -> Response[bytes]:
    asset = _BY_HASHED.get(name)
    if asset is None:  # an old hash after a deploy, or a typo: the page that asked is stale
        raise NotFoundException(detail="No such asset.")
    return Response(asset.body, media_type=asset.media_type, headers={"Cache-Control": IMMUTABLE})
