"""The certificate's QR code: the HC1 text in alphanumeric mode, error correction Q (SPEC §8)."""

import io

import segno
from PIL import Image


def qr_code(text: str) -> segno.QRCode:
    # boost_error off: the DCC specification asks for level Q exactly, not whatever still fits.
    return segno.make_qr(text, error="q", mode="alphanumeric", boost_error=False)


def qr_png(text: str, *, scale: int = 6, border: int = 4) -> bytes:
    out = io.BytesIO()
    qr_code(text).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def qr_image(text: str, *, size: int) -> Image.Image:
    """The QR code as a black-and-white image about ``size`` pixels wide, modules kept whole."""
    code = qr_code(text)
    modules = int(code.symbol_size(scale=1, border=4)[0])
    scale = max(1, size // modules)
    return Image.open(io.BytesIO(qr_png(text, scale=scale))).convert("L")
