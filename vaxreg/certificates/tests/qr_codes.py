"""QR codes read back in tests as the verification page reads them: QR codes only."""

from typing import Any

import zxingcpp


def read_qr_codes(image: Any) -> list[Any]:
    """The QR codes found in an image (``.text``, ``.ec_level``, ...). Other symbologies are not looked for:
    the random bytes of a signature sometimes also read as a short linear barcode."""
    return list(zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)))
