"""What every parser shares: the error it raises, its interface, content sniffing, text assembly."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, ClassVar

from apps.core.errors import Invalid
from apps.rag.chunking import Extracted, Segment

SNIFF_BYTES = 8192


class DocumentUnreadable(Invalid):
    """A file that no configured parser can read, with the reason (`.reason`, also the message):
    no parser matches it, it is not what its name says, it is corrupt, or it holds no text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Parser:
    """One document format. Subclasses set the class attributes and implement `extract`.

    `name` is the LlamaFarm type name the class is registered under; `extensions` and
    `mime_types` are what it handles when a config entry names no patterns of its own;
    `default_strategy`/`default_size`/`default_overlap` are LlamaFarm's chunking defaults for it.
    """

    name: ClassVar[str] = ""
    extensions: ClassVar[tuple[str, ...]] = ()
    mime_types: ClassVar[tuple[str, ...]] = ()
    default_strategy: ClassVar[str] = "sentences"
    default_size: ClassVar[int] = 1000
    default_overlap: ClassVar[int] = 100

    def extract(self, path: Path, filename: str, config: dict[str, Any]) -> Extracted:
        """The document's text and segments; DocumentUnreadable with the reason when it cannot."""
        raise NotImplementedError


def head_bytes(path: Path, size: int = SNIFF_BYTES) -> bytes:
    """The first `size` bytes of the file."""
    with path.open("rb") as handle:
        return handle.read(size)


def sniff(path: Path) -> str:
    """The file's real kind, told by its first bytes: "pdf", "docx", "xlsx", "zip", "ole" (legacy
    Office), "image", "binary", "empty" or "text" (valid UTF-8 with no NUL byte)."""
    head = head_bytes(path)
    if not head:
        return "empty"
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            return "zip"
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")):
        return "image"
    if (head[:4] == b"RIFF" and head[8:12] == b"WEBP") or (head[:2] == b"BM" and head[6:10] == b"\x00" * 4):
        return "image"  # WebP; BMP (its two reserved header words are zero, which no text has)
    if b"\x00" in head:
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut by the sniff window
            return "binary"
    return "text"


KIND_WORDS = {
    "pdf": "a PDF",
    "docx": "a Word (DOCX) document",
    "xlsx": "an Excel (XLSX) workbook",
    "zip": "a ZIP archive",
    "ole": "a legacy Office (OLE) file",
    "image": "an image",
    "binary": "binary data",
    "empty": "empty",
    "text": "text",
}


def require_kind(path: Path, filename: str, wanted: str, what: str) -> None:
    """DocumentUnreadable unless the file's content is of kind `wanted` (see `sniff`)."""
    kind = sniff(path)
    if kind == "empty":
        raise DocumentUnreadable(f"{filename} is empty")
    if kind != wanted:
        raise DocumentUnreadable(f"{filename} is not {what}: its content is {KIND_WORDS[kind]}")


def read_text(path: Path, filename: str, encoding: str = "utf-8") -> str:
    """The file decoded as text; DocumentUnreadable when it is binary or not in `encoding`."""
    kind = sniff(path)
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8", "auto")
    if kind == "empty":
        raise DocumentUnreadable(f"{filename} is empty")
    # Bytes that are not UTF-8 may still be text in the configured encoding (latin-1, ...).
    if kind != "text" and (utf8 or kind != "binary" or b"\x00" in head_bytes(path)):
        raise DocumentUnreadable(f"{filename} is not text: its content is {KIND_WORDS[kind]}")
    try:
        text = path.read_bytes().decode("utf-8-sig" if utf8 else encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise DocumentUnreadable(f"{filename} cannot be decoded as {encoding}: {error}") from error
    return text.replace("\r\n", "\n").replace("\r", "\n")


class TextBuilder:
    """Assembles a document's text from blocks and records a Segment for each block."""

    def __init__(self, separator: str = "\n\n") -> None:
        self.separator = separator
        self.parts: list[str] = []
        self.length = 0
        self.segments: list[Segment] = []

    def add(self, block: str, **segment: Any) -> None:
        """Append `block` (stripped; skipped when empty) as one segment with these attributes."""
        block = block.strip()
        if not block:
            return
        if self.parts:
            self.parts.append(self.separator)
            self.length += len(self.separator)
        start = self.length
        self.parts.append(block)
        self.length += len(block)
        self.segments.append(Segment(start=start, end=self.length, **segment))

    def extracted(self, filename: str, metadata: dict[str, Any]) -> Extracted:
        """The assembled text; DocumentUnreadable when it holds no text at all."""
        text = "".join(self.parts)
        if not text.strip():
            raise DocumentUnreadable(f"{filename} contains no text")
        return Extracted(text=text, segments=self.segments, metadata=metadata)
