"""Real test documents, authored on the spot: one per format, each about one known subject.

Every builder takes a folder, writes its document there with the real library of its format
(fpdf2, python-docx, openpyxl, beautifulsoup-readable HTML, ...) and returns the file's path.

- `CORPUS`: (filename, builder, topic keywords) for the readable documents, one subject each.
- `QUESTIONS`: (question, expected filename): questions whose answer is in exactly one document,
  phrased in other words than the documents use (for a real hit@k test of retrieval).
- `pdf_scanned` (a PDF whose only content is an image of text, as a scan is): read by OCR, and
  unreadable with `use_ocr: false`; `png_named_pdf` (an image under a .pdf name) must fail.

`corpus_build(folder)` writes them all. The texts are written for these tests and kept factual.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

VOLCANOES = {
    "title": "Volcanoes",
    "sections": [
        (
            "How magma reaches the surface",
            [
                "Magma forms where rock in the upper mantle or lower crust partly melts. Being less dense than "
                "the solid rock around it, the melt rises and gathers in magma chambers a few kilometres below "
                "the ground.",
                "An eruption starts when the pressure of gases dissolved in the magma, mostly water vapour and "
                "carbon dioxide, becomes greater than the strength of the rock above the chamber.",
            ],
        ),
        (
            "Kinds of volcano",
            [
                "Shield volcanoes such as Mauna Loa in Hawaii are built from runny basaltic lava that flows a "
                "long way before it cools, which gives them broad and gently sloping sides.",
                "Stratovolcanoes such as Mount Fuji and Mount St. Helens are steep cones of alternating lava "
                "and ash layers. Their sticky, silica-rich magma traps gas and often erupts explosively.",
            ],
        ),
        (
            "Hazards",
            [
                "Pyroclastic flows are avalanches of hot gas, ash and rock fragments that can move faster than "
                "100 kilometres per hour; one buried Pompeii and Herculaneum in 79 AD.",
                "Ash clouds are a danger to aircraft: the glassy particles melt inside jet engines and can make "
                "them stop, which is why airspace closes around erupting volcanoes.",
            ],
        ),
        (
            "Monitoring",
            [
                "Volcanologists watch for swarms of small earthquakes, for swelling of the ground measured by "
                "GPS and satellite radar, and for changes in the sulphur dioxide a volcano gives off.",
            ],
        ),
    ],
}

TEA = {
    "title": "Tea",
    "sections": [
        (
            "Origins",
            [
                "Tea is brewed from the leaves of Camellia sinensis, an evergreen shrub native to the region "
                "where southwestern China meets Myanmar and India.",
                "Drinking tea became widespread in China during the Tang dynasty, when Lu Yu wrote The Classic "
                "of Tea in the eighth century.",
            ],
        ),
        (
            "Processing",
            [
                "Green, oolong and black teas come from the same plant; they differ in how far the leaves are "
                "allowed to oxidise after picking.",
                "For green tea the leaves are heated soon after harvest, by pan-firing or steaming, which stops "
                "the enzymes; oolong is partly oxidised and black tea fully oxidised.",
            ],
        ),
        (
            "Brewing",
            [
                "Green tea tastes best made with water well below boiling, around 70 to 80 degrees Celsius, "
                "steeped for two or three minutes; hotter water draws out bitter compounds.",
                "Black tea is usually made with freshly boiled water and left for three to five minutes.",
            ],
        ),
        (
            "Trade",
            [
                "To break China's hold on the trade, the botanist Robert Fortune carried tea plants and seeds "
                "out of China for the East India Company between 1848 and 1851, and they were planted in the "
                "Darjeeling hills of India.",
            ],
        ),
    ],
}

RAIL_PAGES = [
    (
        "Block signalling",
        [
            "Railways keep trains apart by dividing the line into blocks, sections of track that only one "
            "train may occupy at a time. A signal at the entrance of each block shows whether it is clear.",
            "A heavy train needs hundreds of metres, often more than a kilometre, to stop, so its driver "
            "cannot rely on seeing the train ahead; the block system gives that distance instead.",
        ],
    ),
    (
        "Track circuits",
        [
            "The track circuit, invented by William Robinson in 1872, passes a low-voltage current along the "
            "rails of a block. The wheels and axles of a train connect the two rails, short-circuit the "
            "current and release a relay that sets the signal behind the train to danger.",
            "The design is fail-safe: a broken rail or a loss of power also releases the relay, so a fault "
            "shows danger rather than a false clear.",
        ],
    ),
    (
        "Interlocking",
        [
            "Interlocking in a signal box makes it impossible for a signaller to set conflicting routes: a "
            "signal lever cannot be pulled unless the points on its route are set and locked.",
            "Modern lines use computer-based interlocking, and the European Train Control System sends the "
            "movement authority straight to the driver's cab through balises fixed between the rails.",
        ],
    ),
]

BEES = {
    "title": "Honey bees",
    "sections": [
        (
            "The colony",
            [
                "A honey bee colony has a single queen, tens of thousands of female workers and, in summer, a "
                "few hundred male drones. In the breeding season the queen can lay up to about 1,500 eggs a day.",
                "Workers change jobs as they age: they clean cells, nurse larvae, build comb and guard the "
                "entrance before they spend their last weeks foraging.",
            ],
        ),
        (
            "The waggle dance",
            [
                "Karl von Frisch showed that a forager back from a good patch of flowers tells her nestmates "
                "where it is by dancing on the comb.",
                "The angle of the waggle run from the vertical gives the direction of the food relative to the "
                "sun, and the length of the run gives its distance. Von Frisch shared the Nobel Prize in 1973.",
            ],
        ),
        (
            "Making honey",
            [
                "Foragers carry nectar home, where enzymes such as invertase split its sucrose into glucose and "
                "fructose. The bees fan their wings to evaporate water until the honey holds about 17 to 18 "
                "percent, then cap the cells with wax.",
            ],
        ),
        (
            "Pollination",
            [
                "Honey bees pollinate crops such as almonds, apples and oilseed rape. The parasitic mite Varroa "
                "destructor, which spreads viruses between bees, is the greatest threat to managed colonies.",
            ],
        ),
    ],
    "table": [("Caste", "Role"), ("Queen", "lays the eggs"), ("Worker", "does all the work"), ("Drone", "mates")],
}

CHESS_ROWS = [
    ("Opening", "First moves", "Idea"),
    (
        "Ruy Lopez",
        "1.e4 e5 2.Nf3 Nc6 3.Bb5",
        "Named after the sixteenth-century Spanish priest Ruy Lopez de Segura; White's bishop puts pressure on "
        "the knight that defends Black's e5 pawn.",
    ),
    (
        "Sicilian Defence",
        "1.e4 c5",
        "The most popular reply by Black to 1.e4; Black fights for the centre from the side and gets an "
        "unbalanced game.",
    ),
    (
        "Queen's Gambit",
        "1.d4 d5 2.c4",
        "White offers the c-pawn to draw Black's d-pawn away from the centre; taking it is not a real gain "
        "because White can win it back.",
    ),
    ("French Defence", "1.e4 e6", "Black prepares ...d5 and accepts a cramped but solid position."),
    (
        "King's Indian Defence",
        "1.d4 Nf6 2.c4 g6",
        "Black lets White build a big pawn centre, then strikes at it with ...e5 or ...c5 and often attacks "
        "on the king's side.",
    ),
    (
        "Italian Game",
        "1.e4 e5 2.Nf3 Nc6 3.Bc4",
        "One of the oldest openings in chess; White's bishop aims at f7, the weakest square near Black's king.",
    ),
]

TIDES_SHEETS = {
    "Causes": [
        ("Factor", "Explanation"),
        (
            "Moon's gravity",
            "The Moon pulls the ocean on the side of the Earth facing it more strongly than the Earth itself, "
            "and the Earth more than the far side, which raises two bulges of water.",
        ),
        (
            "Spring tides",
            "At new and full moon the Sun, Moon and Earth line up and their pulls add together, giving the "
            "largest range between high and low water.",
        ),
        (
            "Neap tides",
            "At the first and third quarter the Sun and Moon pull at right angles, giving the smallest range.",
        ),
        (
            "Timing",
            "Most coasts have two high waters a day, about 12 hours 25 minutes apart, because the Moon returns "
            "to the same place in the sky every 24 hours 50 minutes.",
        ),
    ],
    "Places": [
        ("Place", "Country", "Note"),
        ("Bay of Fundy", "Canada", "The largest tidal range in the world, up to about 16 metres."),
        ("Severn Estuary", "United Kingdom", "A range of about 14 metres and a tidal bore that surfers ride."),
        ("Mediterranean Sea", "several", "Tides are small, often less than half a metre."),
    ],
}

LIGHTHOUSES = [
    {
        "name": "Pharos of Alexandria",
        "built": "about 280 BC",
        "place": "Alexandria, Egypt",
        "notes": "Counted among the Seven Wonders of the Ancient World; earthquakes ruined it by the 14th century.",
    },
    {
        "name": "Smeaton's Tower",
        "built": "1759",
        "place": "Eddystone Rocks, England",
        "notes": "John Smeaton dovetailed its granite blocks together and used a lime mortar that sets under water.",
    },
    {
        "name": "Bell Rock Lighthouse",
        "built": "1810",
        "place": "off Arbroath, Scotland",
        "notes": "Built by Robert Stevenson; the oldest surviving lighthouse standing on a rock washed by the sea.",
    },
    {
        "name": "Fresnel lens",
        "built": "1822",
        "place": "France",
        "notes": "Augustin Fresnel's lens of concentric prisms sends the light far with much less glass than a "
        "solid lens.",
    },
]

SOURDOUGH = [
    "Sourdough bread rises without baker's yeast. It is leavened by a starter, a culture of wild yeasts and "
    "lactic acid bacteria that lives in a paste of flour and water.",
    "The bacteria make lactic and acetic acids, which give the bread its sour taste and help it keep longer, "
    "while the yeasts make the carbon dioxide that raises the dough.",
    "A starter is kept alive by regular feeding: part of it is thrown away and the rest is mixed with fresh "
    "flour and water. Bakers often let the dough ferment slowly for many hours.",
    "San Francisco sourdough is known for the bacterium named after the city, Lactobacillus sanfranciscensis, "
    "now called Fructilactobacillus sanfranciscensis.",
]

SCANNED_TEXT = [
    "Glaciers form where more snow falls",
    "each winter than melts each summer.",
    "The snow is pressed into dense ice",
    "that flows slowly downhill.",
]


def markdown_volcanoes(folder: Path) -> Path:
    """volcanoes.md: Markdown with a title and four `##` sections."""
    lines = [f"# {VOLCANOES['title']}", ""]
    for heading, paragraphs in VOLCANOES["sections"]:
        lines += [f"## {heading}", ""]
        for paragraph in paragraphs:
            lines += [paragraph, ""]
    path = folder / "volcanoes.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def html_tea(folder: Path) -> Path:
    """tea.html: an HTML page with a <title>, a script and a style (to be left out), h1/h2/p."""
    body = [f"<h1>{TEA['title']}</h1>"]
    for heading, paragraphs in TEA["sections"]:
        body.append(f"<h2>{heading}</h2>")
        body += [f"<p>{paragraph}</p>" for paragraph in paragraphs]
    page = (
        "<!DOCTYPE html>\n<html><head><title>Tea</title><style>p { color: green; }</style>"
        "<script>var tracker = 'not content';</script></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    path = folder / "tea.html"
    path.write_text(page, encoding="utf-8")
    return path


def pdf_rail_signalling(folder: Path) -> Path:
    """rail_signalling.pdf: three pages with a text layer (fpdf2), one topic per page."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Rail signalling")
    for heading, paragraphs in RAIL_PAGES:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.multi_cell(0, 10, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
    path = folder / "rail_signalling.pdf"
    pdf.output(str(path))
    return path


def pdf_scanned(folder: Path, name: str = "glaciers_scan.pdf") -> Path:
    """A PDF with no text layer: two pages whose only content is an image of text (as a scan is)."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    pdf = FPDF()
    for page in range(2):
        image = Image.new("RGB", (1200, 400), "white")
        draw = ImageDraw.Draw(image)
        for number, line in enumerate(SCANNED_TEXT[page * 2 : page * 2 + 2]):
            draw.text((40, 60 + number * 120), line, fill="black", font_size=48)
        pdf.add_page()
        pdf.image(image, x=10, y=10, w=190)
    path = folder / name
    pdf.output(str(path))
    return path


def png_named_pdf(folder: Path, name: str = "report.pdf") -> Path:
    """An image saved under a .pdf name: a misnamed binary file."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, format="PNG")
    path = folder / name
    path.write_bytes(buffer.getvalue())
    return path


def docx_bees(folder: Path) -> Path:
    """bees.docx: a Word document with a Title, four "Heading 1" sections and a small table."""
    import docx

    document = docx.Document()
    document.core_properties.title = BEES["title"]
    document.add_heading(BEES["title"], level=0)
    for heading, paragraphs in BEES["sections"]:
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    rows = BEES["table"]
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    path = folder / "bees.docx"
    document.save(str(path))
    return path


def csv_chess(folder: Path) -> Path:
    """chess_openings.csv: a header and six rows, one chess opening each."""
    path = folder / "chess_openings.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(CHESS_ROWS)
    return path


def xlsx_tides(folder: Path) -> Path:
    """tides.xlsx: two sheets ("Causes", "Places"), each with a header row."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in TIDES_SHEETS.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    path = folder / "tides.xlsx"
    workbook.save(path)
    return path


def json_lighthouses(folder: Path) -> Path:
    """lighthouses.json: an array of four records."""
    path = folder / "lighthouses.json"
    path.write_text(json.dumps(LIGHTHOUSES, indent=2), encoding="utf-8")
    return path


def text_sourdough(folder: Path) -> Path:
    """sourdough.txt: four paragraphs of plain text."""
    path = folder / "sourdough.txt"
    path.write_text("\n\n".join(SOURDOUGH) + "\n", encoding="utf-8")
    return path


Builder = Callable[[Path], Path]

CORPUS: list[tuple[str, Builder, tuple[str, ...]]] = [
    ("volcanoes.md", markdown_volcanoes, ("volcano", "magma", "lava", "eruption")),
    ("tea.html", html_tea, ("tea", "Camellia sinensis", "oxidised", "brewing")),
    ("rail_signalling.pdf", pdf_rail_signalling, ("railway", "signal", "track circuit", "interlocking")),
    ("bees.docx", docx_bees, ("honey bee", "colony", "queen", "waggle dance")),
    ("chess_openings.csv", csv_chess, ("chess", "opening", "defence", "gambit")),
    ("tides.xlsx", xlsx_tides, ("tide", "Moon", "spring tide", "tidal range")),
    ("lighthouses.json", json_lighthouses, ("lighthouse", "lens", "Pharos", "Eddystone")),
    ("sourdough.txt", text_sourdough, ("sourdough", "starter", "lactic acid", "bread")),
]

QUESTIONS: list[tuple[str, str]] = [
    ("Why do airlines keep their planes away from an erupting mountain?", "volcanoes.md"),
    ("What builds a wide, low-angled mountain out of fluid molten rock?", "volcanoes.md"),
    ("How hot should the water be when I make a cup from unoxidised leaves?", "tea.html"),
    ("Who took the plants out of China so that they could be grown in Indian hills?", "tea.html"),
    ("How does the line know electrically that a locomotive is standing on a stretch of it?", "rail_signalling.pdf"),
    ("What stops the person in the box from giving two trains routes that would collide?", "rail_signalling.pdf"),
    ("How do foragers share with the hive where they found nectar?", "bees.docx"),
    ("How many eggs can the mother of the hive produce in one day?", "bees.docx"),
    ("Which beginning of a chess game is named after a priest from Spain?", "chess_openings.csv"),
    ("What is Black's favourite answer when White pushes the king's pawn two squares?", "chess_openings.csv"),
    ("When is the difference between high and low sea level at its greatest?", "tides.xlsx"),
    ("Where in Canada does the ocean rise and fall the most?", "tides.xlsx"),
    ("Which ancient Egyptian beacon was one of the wonders of the old world?", "lighthouses.json"),
    ("Who made a lens from rings of prisms for coastal lights?", "lighthouses.json"),
    ("Which microbes make a naturally leavened loaf taste tangy?", "sourdough.txt"),
    ("How do you keep a bread culture alive between bakes?", "sourdough.txt"),
]


def corpus_build(folder: Path) -> dict[str, Path]:
    """Write every CORPUS document into `folder`; their paths by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    return {filename: builder(folder) for filename, builder, _ in CORPUS}
