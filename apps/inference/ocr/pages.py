"""Page images from what a client or a dataset gives: an image file, or a PDF rendered page by page.

Limits are checked before anything is decoded: a PDF's page count and each page's size at the
render resolution come from its page tree, an image's size from its header, so a request past
them costs nothing (413). A file that is not a readable image or PDF is Invalid (400) with the
decoder's reason, never a server error. pypdfium2 renders pages (PDFium, the renderer of Chrome).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

from apps.core.errors import DomainError, Invalid

if TYPE_CHECKING:
    from PIL.Image import Image

PDF_MAGIC = b"%PDF-"
POINTS_PER_INCH = 72


class TooLarge(DomainError):
    """A request past a page or pixel limit (413)."""

    status_code = 413


def is_pdf(data: bytes) -> bool:
    """Whether the bytes are a PDF (its header, which PDF readers accept in the first 1 KiB)."""
    return PDF_MAGIC in data[:1024]


def pages_count(*, data: bytes, label: str, dpi: int, max_pages: int, max_pixels: int) -> int:
    """How many page images `data` (a PDF or an image, called `label` in messages) gives, checked
    against the limits without decoding any: Invalid (400) when it is unreadable, TooLarge (413)
    past `max_pages` (PDFs) or when a page holds more than `max_pixels` pixels at `dpi`."""
    if is_pdf(data):
        document = _pdf_open(data, label)
        try:
            count = len(document)
            if count == 0:
                raise Invalid(f"{label} is a PDF with no pages")
            if max_pages and count > max_pages:
                raise TooLarge(f"{label} has {count} pages; at most {max_pages} are read per request")
            for number in range(count):
                width, height = document.get_page_size(number)
                _pixels_check(_scaled(width, dpi), _scaled(height, dpi), max_pixels, f"{label} page {number + 1}")
            return count
        finally:
            document.close()
    image = _image_header(data, label)
    _pixels_check(image.width, image.height, max_pixels, label)
    return 1


def pages_render(*, data: bytes, label: str, dpi: int, max_pixels: int) -> Iterator[Image]:
    """The page images of `data`, in order, as RGB PIL images: each PDF page rendered at `dpi`
    (its /Rotate applied, so pages come upright as a viewer shows them), or the image itself (its
    first frame; EXIF orientation applied). Invalid / TooLarge as `pages_count` does."""
    if is_pdf(data):
        document = _pdf_open(data, label)
        try:
            for number in range(len(document)):
                width, height = document.get_page_size(number)
                _pixels_check(_scaled(width, dpi), _scaled(height, dpi), max_pixels, f"{label} page {number + 1}")
                page = document[number]
                try:
                    yield page.render(scale=dpi / POINTS_PER_INCH).to_pil().convert("RGB")
                except Exception as error:  # PDFium fails on broken content streams in its own ways
                    raise Invalid(f"{label} page {number + 1} cannot be rendered: {error}") from error
                finally:
                    page.close()
        finally:
            document.close()
        return
    yield image_decode(data=data, label=label, max_pixels=max_pixels)


def image_decode(*, data: bytes, label: str, max_pixels: int) -> Image:
    """`data` decoded as an image (RGB, EXIF orientation applied); Invalid / TooLarge."""
    from PIL import ImageOps

    image = _image_header(data, label)
    _pixels_check(image.width, image.height, max_pixels, label)
    try:
        image.load()
        return ImageOps.exif_transpose(image).convert("RGB")
    except Exception as error:  # truncated or corrupt pixel data: PIL raises OSError, ValueError, …
        raise Invalid(f"{label} is a corrupt image: {error}") from error


def _image_header(data: bytes, label: str) -> Image:
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise Invalid(f"{label} is empty")
    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise TooLarge(f"{label} is too large: {error}") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise Invalid(f"{label} is not a readable image or PDF: {error}") from error


def _pdf_open(data: bytes, label: str) -> object:
    import pypdfium2

    try:
        return pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        raise Invalid(f"{label} is not a readable PDF: {error}") from error


def _scaled(points: float, dpi: int) -> int:
    return round(points * dpi / POINTS_PER_INCH)


def _pixels_check(width: int, height: int, max_pixels: int, label: str) -> None:
    if max_pixels and width * height > max_pixels:
        raise TooLarge(
            f"{label} is {width}×{height} = {width * height} pixels; at most {max_pixels} are read "
            "(MODELYARD_VISION_MAX_PIXELS)"
        )
