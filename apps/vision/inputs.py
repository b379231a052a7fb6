"""What a vision request reads: the uploaded file or the base64 images, as named byte strings.

The spec's multipart fields: `file` (PDF, PNG, JPG, JPEG, GIF, WebP, BMP, TIFF) or `images`, a JSON
array of base64 strings (bare or `data:image/...;base64,` URIs). LlamaFarm also takes one bare
base64 string or data URI in `images`; so do we.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path

from apps.core.errors import Invalid

SUPPORTED_EXTENSIONS = (".pdf", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tiff", ".tif")
# The leading bytes of each supported format (a PDF's header may come later in its first KiB).
MAGIC_PREFIXES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


def content_supported(data: bytes) -> bool:
    """Whether the bytes look like a supported document by their content (the magic numbers of PNG,
    JPEG, GIF, WebP, BMP, TIFF; %PDF- in the first KiB), whatever the file is called."""
    return data.startswith(MAGIC_PREFIXES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP") or b"%PDF-" in data[:1024]


@dataclass(frozen=True)
class VisionInput:
    """One input document: `label` names it in messages (the file name, or `images[i]`)."""

    label: str
    data: bytes


def inputs_from_request(*, file_name: str | None, file_data: bytes | None, images: str | None) -> list[VisionInput]:
    """The documents of a request: the uploaded file when there is one, else the `images` field.

    A file is taken by its extension, or by its content when the name has none it knows ("blob",
    "scan"): Invalid (400) when neither is given, for a file neither names nor holds a supported type, for `images` that
    is not a non-empty JSON array of strings (or one base64 string), or an entry that is not base64.
    """
    if file_data is not None and file_name:
        extension = Path(file_name).suffix.lower()
        if extension not in SUPPORTED_EXTENSIONS and not content_supported(file_data):
            raise Invalid(
                f"Unsupported file type: {extension or '(none)'}. Supported: {', '.join(SUPPORTED_EXTENSIONS)}"
            )
        if not file_data:
            raise Invalid(f"{file_name} is empty")
        return [VisionInput(label=Path(file_name).name, data=file_data)]
    if images is not None and images.strip():
        return [
            VisionInput(label=f"images[{index}]", data=base64_decode(text, label=f"images[{index}]"))
            for index, text in enumerate(images_parse(images))
        ]
    raise Invalid("Either 'file' (upload) or 'images' (base64) must be provided")


def images_parse(images: str) -> list[str]:
    """The base64 strings of the `images` field: a JSON array of strings, or one string."""
    text = images.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            raise Invalid(f"Invalid 'images' format: not a JSON array ({error.msg})") from error
        if not parsed:
            raise Invalid("Invalid 'images' format: array cannot be empty")
        if not all(isinstance(item, str) for item in parsed):
            raise Invalid("Invalid 'images' format: all array elements must be base64 strings or data URIs")
        return parsed
    return [text]


def base64_decode(text: str, *, label: str) -> bytes:
    """The bytes of a base64 string or `data:<mime>;base64,<data>` URI; Invalid when it is not one."""
    payload = text.strip()
    if payload.startswith("data:"):
        header, _, payload = payload.partition(",")
        if ";base64" not in header:
            raise Invalid(f"{label} is a data URI that is not base64-encoded")
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise Invalid(f"{label} is not valid base64: {error}") from error
    if not data:
        raise Invalid(f"{label} is empty")
    return data
