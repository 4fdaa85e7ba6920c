"""QR codes of payment URIs, drawn locally (segno): the address never leaves the process for a
third-party QR service."""

from __future__ import annotations

import io

import segno

# Big enough to scan from another phone's screen, small enough to upload quickly (a typical
# BIP-21 URI gives about 450 px and 1-2 kB).
SCALE = 8
BORDER = 4  # the quiet zone the QR standard asks for, in modules


def qr_png(data: str, *, scale: int = SCALE, border: int = BORDER) -> bytes:
    """A PNG of ``data`` as a QR code (error correction M or better, never a micro QR).
    Raises ValueError for empty data or data too long for any QR code."""
    if not data:
        raise ValueError("nothing to encode")
    try:
        code = segno.make(data, error="m", micro=False)
    except segno.DataOverflowError as exc:
        raise ValueError(f"too long for a QR code: {len(data)} characters") from exc
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=border)
    return out.getvalue()
