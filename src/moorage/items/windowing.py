"""A DICOM/NIfTI slice's original values (for windowing in the viewer), or the slice windowed
to an 8-bit PNG on the server. Media endpoints: an API key or the gallery's session."""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import Response

from moorage.deps import CtxDep, PathMediaTeamDep, SessionDep
from moorage.items.slices import load_slice
from moorage.kit.routing import api_router
from moorage.media.windowing import SliceValues, encode_values, window_png

router = api_router(tags=["items"])
SLICE = "/v2/teams/{team}/items/{item_id}/slots/{slot_name:path}/slices/{slice}"
SliceNumber = Annotated[int, Path(ge=1, le=2**31 - 1, description="The section number (1-based)")]
_LIMIT = 1e9
_NO_CACHE = "private, no-cache"


def _headers(data: SliceValues) -> dict[str, str]:
    values = data.values
    headers = {
        "X-Slice-Width": str(data.width),
        "X-Slice-Height": str(data.height),
        "X-Value-Min": repr(float(values.min())) if values.size else "0",
        "X-Value-Max": repr(float(values.max())) if values.size else "0",
        "X-Slice-Invert": "1" if data.invert else "0",
        "Cache-Control": _NO_CACHE,
    }
    if data.window is not None:
        headers["X-Window-Center"] = repr(data.window[0])
        headers["X-Window-Width"] = repr(data.window[1])
    if data.unit:
        headers["X-Value-Unit"] = data.unit
    return headers


@router.get(
    SLICE + "/values",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "rows x columns values, little-endian, row-major (`X-Slice-Dtype` "
            "`int16` or `float32`); `X-Slice-Width`/`-Height`, the file's own window in "
            "`X-Window-Center`/`-Width`, `X-Value-Min`/`-Max`, `X-Value-Unit` (HU for CT), "
            "`X-Slice-Invert` (1: MONOCHROME1)",
        }
    },
)
def get_slice_values(
    request: Request,
    session: SessionDep,
    team: PathMediaTeamDep,
    ctx: CtxDep,
    item_id: str,
    slot_name: str,
    slice: SliceNumber,
) -> Response:
    """The slice after the modality LUT (HU for CT): the viewer windows it on a canvas."""
    data = load_slice(session, team, ctx, item_id=item_id, slot_name=slot_name, number=slice)
    body, dtype = encode_values(data.values)
    headers = {**_headers(data), "X-Slice-Dtype": dtype, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/octet-stream", headers=headers)


@router.get(
    SLICE + "/windowed.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The windowed slice"}},
)
def get_windowed_slice(
    session: SessionDep,
    team: PathMediaTeamDep,
    ctx: CtxDep,
    item_id: str,
    slot_name: str,
    slice: SliceNumber,
    center: Annotated[float, Query(ge=-_LIMIT, le=_LIMIT, allow_inf_nan=False)],
    width: Annotated[float, Query(ge=1, le=_LIMIT, allow_inf_nan=False)],
) -> Response:
    """The slice windowed on the server (DICOM's linear function) to an 8-bit PNG."""
    data = load_slice(session, team, ctx, item_id=item_id, slot_name=slot_name, number=slice)
    return Response(window_png(data, center, width), media_type="image/png", headers=_headers(data))
