"""Documents and models the vision tests build: pages of known text rendered with the DejaVu fonts,
scanned-style PDFs (page images, no text layer), and tiny random Donut and LayoutLMv3 models with
real configs and real (tiny, trained here) tokenizers."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf")

INVOICE_LINES = (
    "Invoice number 4711 from Modelyard",
    "The quick brown fox jumps over the lazy dog.",
    "Payment is due within thirty days.",
)
GLACIER_LINES = (
    "Glaciers carve deep valleys into granite.",
    "Moraines mark where the ice once stood.",
)
MEADOW_LINES = (
    "Alpine meadows bloom in early summer.",
    "Marmots whistle to warn of eagles.",
)


def font(name: str, size: int) -> object:
    from PIL import ImageFont

    return ImageFont.truetype(str(FONT_DIR / name), size)


def render_lines(
    lines: tuple[str, ...] | list[str],
    *,
    font_name: str = "DejaVuSans.ttf",
    size: int = 36,
    canvas: tuple[int, int] = (1400, 600),
    origin: tuple[int, int] = (80, 80),
) -> Image:
    """A white page with `lines` in black, one under the other (1.8 × size apart)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", canvas, "white")
    draw = ImageDraw.Draw(image)
    face = font(font_name, size)
    for number, line in enumerate(lines):
        draw.text((origin[0], origin[1] + round(number * size * 1.8)), line, font=face, fill="black")
    return image


def render_mixed_fonts() -> tuple[Image, list[str]]:
    """One page, each line in another DejaVu face and size (28–44 px, 10–16 pt at 200 dpi)."""
    from PIL import Image, ImageDraw

    lines = [
        ("DejaVuSans.ttf", 32, "Modelyard reads scanned pages offline."),
        ("DejaVuSerif.ttf", 40, "Serif letters have small feet."),
        ("DejaVuSansMono.ttf", 30, "Monospaced code: total = 42"),
        ("DejaVuSans-Bold.ttf", 44, "Bold headings stand out."),
        ("DejaVuSansCondensed.ttf", 28, "Condensed type fits more words on a line."),
    ]
    image = Image.new("RGB", (1500, 700), "white")
    draw = ImageDraw.Draw(image)
    top = 60
    for name, size, text in lines:
        draw.text((80, top), text, font=font(name, size), fill="black")
        top += round(size * 2.2)
    return image, [text for _, _, text in lines]


def render_two_columns() -> tuple[Image, list[str]]:
    """A title across the page over two columns of three lines; the text in reading order
    (title, the whole left column, then the right one)."""
    from PIL import Image, ImageDraw

    title = "Annual Report of the Alpine Club"
    left = ["Members climbed", "twelve summits", "this summer."]
    right = ["The hut was", "rebuilt with", "local timber."]
    image = Image.new("RGB", (1400, 700), "white")
    draw = ImageDraw.Draw(image)
    face = font("DejaVuSerif.ttf", 36)
    draw.text((80, 60), title, font=face, fill="black")
    for number, (one, two) in enumerate(zip(left, right, strict=True)):
        draw.text((80, 220 + number * 70), one, font=face, fill="black")
        draw.text((760, 220 + number * 70), two, font=face, fill="black")
    return image, [title, *left, *right]


def png_bytes(image: Image, format: str = "PNG") -> bytes:  # noqa: A002 (PIL's own word)
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def scanned_pdf(pages: list[Image], *, format: str = "A5", rotate: dict[int, int] | None = None) -> bytes:  # noqa: A002
    """A PDF whose pages hold only an image each (a scan: no text layer); `rotate` sets a page's
    /Rotate (0-based page index → degrees), as a scanner's "rotate page" does."""
    from fpdf import FPDF

    pdf = FPDF(format=format)
    pdf.set_auto_page_break(False)
    for image in pages:
        pdf.add_page()
        width = pdf.w - 20
        pdf.image(image, x=10, y=10, w=width)
    data = bytes(pdf.output())
    if rotate:
        import pypdfium2

        document = pypdfium2.PdfDocument(data)
        for index, degrees in rotate.items():
            document[index].set_rotation(degrees)
        buffer = io.BytesIO()
        document.save(buffer)
        document.close()
        data = buffer.getvalue()
    return data


def damaged_pdf() -> bytes:
    """A PDF whose header and cross-reference table open, but whose page tree points at a page
    object that is not there (what overwriting bytes inside an early object gives): PDFium opens it
    and counts one page, then fails on the page itself ("Failed to get page size by index")."""
    import re

    from fpdf import FPDF

    pdf = FPDF(format=(105, 148))  # A6, in mm
    pdf.add_page()
    return re.sub(rb"/Kids \[[^\]]*\]", b"/Kids [99 0 R]", bytes(pdf.output()))


def transparent_png(lines: list[str], *, size: int = 36, canvas: tuple[int, int] = (1000, 220)) -> bytes:
    """Black text on a fully transparent background (RGBA), as screenshots and exports give:
    flattened onto black, as a plain `convert("RGB")` does, the text is invisible."""
    from PIL import Image as PILImage

    text = render_lines(lines, size=size, canvas=canvas)  # black on white, mode L or RGB
    alpha = text.convert("L").point(lambda value: 255 - value)  # ink opaque, paper transparent
    image = PILImage.new("RGBA", text.size, (0, 0, 0, 0))
    image.putalpha(alpha)
    return png_bytes(image)


def multipage_tiff(pages: list[Image]) -> bytes:
    """A multi-page TIFF (one frame per page), as fax and scanner software writes."""
    buffer = io.BytesIO()
    pages[0].save(buffer, format="TIFF", save_all=True, append_images=pages[1:], compression="tiff_deflate")
    return buffer.getvalue()


def character_accuracy(read: str, reference: str) -> float:
    """1 − normalized Levenshtein distance (edits / reference length) between the texts, with runs
    of whitespace (line breaks included) taken as one space: the usual character accuracy (1 − CER)."""
    a = re.sub(r"\s+", " ", read).strip()
    b = re.sub(r"\s+", " ", reference).strip()
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return 1 - previous[-1] / max(len(b), 1)


# --- tiny document models ----------------------------------------------------------------------

CORPUS = [*INVOICE_LINES, *GLACIER_LINES, "What is the total?", "The total is 15.99", "store name"] * 10


def build_tiny_donut(folder: Path) -> Path:
    """A random-weight Donut (DonutSwin encoder, MBart decoder) with a Unigram tokenizer trained
    here and DocVQA/CORD task tokens; saved with its DonutProcessor."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        DonutImageProcessorPil,
        DonutProcessor,
        DonutSwinConfig,
        MBartConfig,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        XLMRobertaTokenizerFast,
    )

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    special = ["<s>", "<pad>", "</s>", "<unk>"]
    tokenizer.train_from_iterator(
        CORPUS, trainers.UnigramTrainer(vocab_size=200, special_tokens=special, unk_token="<unk>")
    )
    fast = XLMRobertaTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    fast.add_tokens(
        [
            "<s_docvqa>",
            "<s_question>",
            "</s_question>",
            "<s_answer>",
            "</s_answer>",
            "<s_cord-v2>",
            "<s_total>",
            "</s_total>",
        ]
    )
    processor = DonutProcessor(image_processor=DonutImageProcessorPil(size={"height": 64, "width": 64}), tokenizer=fast)
    encoder = DonutSwinConfig(
        image_size=[64, 64], patch_size=4, embed_dim=8, depths=[1, 1], num_heads=[1, 1], window_size=4
    )
    decoder = MBartConfig(
        vocab_size=len(fast), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, decoder_ffn_dim=32, encoder_ffn_dim=32, max_position_embeddings=32,
        is_decoder=True, add_cross_attention=True, pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )  # fmt: skip
    config = VisionEncoderDecoderConfig(encoder=encoder, decoder=decoder)
    config.decoder_start_token_id, config.pad_token_id = fast.bos_token_id, fast.pad_token_id
    config.eos_token_id = fast.eos_token_id
    torch.manual_seed(0)
    VisionEncoderDecoderModel(config=config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


LAYOUT_LABELS = {0: "O", 1: "B-TOTAL", 2: "I-TOTAL", 3: "B-VENDOR"}
DOCUMENT_CLASSES = {0: "invoice", 1: "letter", 2: "report"}


def build_tiny_layoutlmv3(folder: Path, *, head: str) -> Path:
    """A random-weight LayoutLMv3 with a byte-level BPE tokenizer trained here; `head` is
    "token" (BIO labels LAYOUT_LABELS), "qa" or "sequence" (DOCUMENT_CLASSES)."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        LayoutLMv3Config,
        LayoutLMv3ForQuestionAnswering,
        LayoutLMv3ForSequenceClassification,
        LayoutLMv3ForTokenClassification,
        LayoutLMv3ImageProcessor,
        LayoutLMv3Processor,
        LayoutLMv3TokenizerFast,
    )

    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))
    vocabulary = json.loads((folder / "vocab.json").read_text())
    merges = [tuple(line.split()) for line in (folder / "merges.txt").read_text().splitlines()[1:] if line.strip()]
    tokenizer = LayoutLMv3TokenizerFast(vocab=vocabulary, merges=merges)
    image_processor = LayoutLMv3ImageProcessor(apply_ocr=False, size={"height": 32, "width": 32})
    labels = {"token": LAYOUT_LABELS, "sequence": DOCUMENT_CLASSES, "qa": {0: "start", 1: "end"}}[head]
    config = LayoutLMv3Config(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        input_size=32, patch_size=16, max_position_embeddings=600, max_2d_position_embeddings=1024,
        coordinate_size=6, shape_size=4, rel_pos_bins=8, max_rel_pos=16, rel_2d_pos_bins=8, max_rel_2d_pos=32,
        id2label=labels, label2id={label: index for index, label in labels.items()},
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    model_class = {
        "token": LayoutLMv3ForTokenClassification,
        "qa": LayoutLMv3ForQuestionAnswering,
        "sequence": LayoutLMv3ForSequenceClassification,
    }[head]
    torch.manual_seed(0)  # the same random weights every run: what they output is then stable
    model_class(config).save_pretrained(folder)
    LayoutLMv3Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def blank_scan_pdf(path: Path) -> Path:
    """A scanned-style PDF whose only page image holds no text (a blank sheet with a faint smudge):
    no text layer, and nothing for OCR to read either: a PDF that no parser can get text from."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (800, 1100), "white")
    ImageDraw.Draw(image).ellipse((300, 400, 420, 480), fill=(235, 235, 235))
    path.write_bytes(scanned_pdf([image]))
    return path
