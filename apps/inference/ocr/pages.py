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
NOT_READABLE = "not a PNG, JPEG, GIF, WebP, BMP, TIFF or PDF"


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
                width, height = _pdf_page_size(document, number, label)
                _pixels_check(_scaled(width, dpi), _scaled(height, dpi), max_pixels, f"{label} page {number + 1}")
            return count
        finally:
            document.close()
    image = _image_header(data, label)
    _pixels_check(image.width, image.height, max_pixels, label)
    frames = _frames_count(image)
    if max_pages and frames > max_pages:
        raise TooLarge(f"{label} has {frames} pages; at most {max_pages} are read per request")
    return frames


def pages_render(*, data: bytes, label: str, dpi: int, max_pixels: int) -> Iterator[Image]:
    """The page images of `data`, in order, as RGB PIL images: each PDF page rendered at `dpi`
    (its /Rotate applied, so pages come upright as a viewer shows them), or the image's pages (see
    `image_pages`). Invalid / TooLarge as `pages_count` does."""
    if is_pdf(data):
        document = _pdf_open(data, label)
        try:
            for number in range(len(document)):
                yield pdf_page_render(document=document, number=number, label=label, dpi=dpi, max_pixels=max_pixels)
        finally:
            document.close()
        return
    yield from image_pages(data=data, label=label, max_pixels=max_pixels)


def pdf_open(*, data: bytes | str, label: str) -> object:
    """A pypdfium2 document of `data` (bytes, or a file path); Invalid (400) when PDFium cannot read it."""
    import pypdfium2

    try:
        return pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        raise Invalid(f"{label} is not a readable PDF: {error}") from error


def pdf_page_render(*, document: object, number: int, label: str, dpi: int, max_pixels: int) -> Image:
    """Page `number` (0-based) of an open PDF rendered at `dpi` as an RGB image. Invalid (400) when
    PDFium cannot read the page (a damaged page tree or content stream), TooLarge past `max_pixels`."""
    width, height = _pdf_page_size(document, number, label)
    _pixels_check(_scaled(width, dpi), _scaled(height, dpi), max_pixels, f"{label} page {number + 1}")
    try:
        page = document[number]
    except Exception as error:  # PdfiumError, or what a broken page dictionary gives
        raise Invalid(f"{label} is not a readable PDF: page {number + 1}: {error}") from error
    try:
        return _flatten(page.render(scale=dpi / POINTS_PER_INCH).to_pil())
    except Exception as error:  # PDFium fails on broken content streams in its own ways
        raise Invalid(f"{label} page {number + 1} cannot be rendered: {error}") from error
    finally:
        page.close()


def image_pages(*, data: bytes, label: str, max_pixels: int) -> Iterator[Image]:
    """The pages of an image file as RGB images: one per frame of a multi-page TIFF, else the image
    (a GIF's first frame); EXIF orientation applied, transparency composited onto white (text in a
    transparent PNG is dark on nothing: OCR would see it on black). Invalid / TooLarge."""
    from PIL import ImageOps

    image = _image_header(data, label)
    _pixels_check(image.width, image.height, max_pixels, label)
    frames = _frames_count(image)
    for frame in range(frames):
        name = f"{label} page {frame + 1}" if frames > 1 else label
        try:
            image.seek(frame)
            _pixels_check(image.width, image.height, max_pixels, name)
            image.load()
            yield _flatten(ImageOps.exif_transpose(image))
        except TooLarge:
            raise
        except Exception as error:  # truncated or corrupt pixel data: PIL raises OSError, ValueError, …
            raise Invalid(f"{name} is a corrupt image: {error}") from error


def image_decode(*, data: bytes, label: str, max_pixels: int) -> Image:
    """`data` decoded as an image (its first page; as `image_pages`); Invalid / TooLarge."""
    return next(image_pages(data=data, label=label, max_pixels=max_pixels))


def _flatten(image: Image) -> Image:
    """RGB: an image with transparency (RGBA, LA, PA, or P/L/RGB with a transparent colour)
    composited onto white."""
    from PIL import Image as PILImage

    if image.mode in ("P", "L", "RGB", "I;16") and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        white = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        return PILImage.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _frames_count(image: Image) -> int:
    """Pages of an image: every frame of a TIFF; one for the rest (a GIF's animation is one picture)."""
    return int(getattr(image, "n_frames", 1)) if image.format == "TIFF" else 1


def _image_header(data: bytes, label: str) -> Image:
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise Invalid(f"{label} is empty")
    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise TooLarge(f"{label} is too large: {error}") from error
    except UnidentifiedImageError as error:  # its message names the BytesIO object: say what was expected
        raise Invalid(f"{label} is {NOT_READABLE}") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise Invalid(f"{label} is {NOT_READABLE}: {error}") from error


def _pdf_open(data: bytes, label: str) -> object:
    return pdf_open(data=data, label=label)


def _pdf_page_size(document: object, number: int, label: str) -> tuple[float, float]:
    """Page `number`'s size in points; Invalid when the page tree is damaged (PdfiumError)."""
    try:
        return document.get_page_size(number)
    except Exception as error:  # pypdfium2.PdfiumError: "Failed to get page size"
        raise Invalid(f"{label} is not a readable PDF: page {number + 1}: {error}") from error


def _scaled(points: float, dpi: int) -> int:
    return round(points * dpi / POINTS_PER_INCH)


def _pixels_check(width: int, height: int, max_pixels: int, label: str) -> None:
    if max_pixels and width * height > max_pixels:
        raise TooLarge(
            f"{label} is {width}×{height} = {width * height} pixels; at most {max_pixels} are read "
            "(MODELYARD_VISION_MAX_PIXELS)"
        )
