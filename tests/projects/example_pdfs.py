"""The PDFs of the example projects (`apps/projects/examples/*/files/*.pdf`), written once with
fpdf2 (a dev-only package) and committed as files: runtime code never generates them.

Regenerate after changing a text here: `.venv/bin/python -m tests.projects.example_pdfs`.
`tests/projects/test_examples.py` checks that each committed PDF's text layer holds these pages.
"""

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "apps" / "projects" / "examples"

# (example id, file name, title, [(page heading, [paragraphs])]). Latin-1 only (fpdf2's core fonts).
PDFS: list[tuple[str, str, str, list[tuple[str, list[str]]]]] = [
    (
        "bike_share_ops",
        "incidents_and_safety.pdf",
        "Incidents and rider safety",
        [
            (
                "Reporting a crash",
                [
                    "When a rider reports a crash through the app or the kiosk help button, the control "
                    "room calls them back within five minutes. If anyone is hurt, the controller tells "
                    "the rider to call the emergency services first and stays on the line.",
                    "The bike involved is locked remotely and marked out of service, so that nobody else "
                    "takes it. A technician collects it within four hours and the workshop inspects the "
                    "frame, fork, brakes and wheels before it returns to the fleet.",
                    "Every crash is logged with the station of origin, the time, the weather and the "
                    "road layout. The safety lead reviews the log monthly and sends repeated locations "
                    "to the city's highways team.",
                ],
            ),
            (
                "Stolen and abandoned bikes",
                [
                    "A bike that has not been docked 24 hours after its trip started is treated as "
                    "missing. The rider is charged the late-return fee and contacted; after 72 hours the "
                    "bike is reported stolen to the police with its frame number and last GPS fix.",
                    "Bikes left outside a station are collected by the nearest rebalancing crew. The "
                    "trip is closed at the time of collection and the rider is charged a recovery fee.",
                ],
            ),
            (
                "Severe weather",
                [
                    "The scheme is suspended when the forecast gives gusts above 80 km/h or ice on the "
                    "roads. The duty manager switches every station to return-only mode: riders can end "
                    "trips but cannot start new ones, and the app shows the suspension notice.",
                    "In heatwaves above 35 degrees C the scheme stays open, kiosks show a hydration "
                    "notice, and e-bike batteries are not swapped in direct sunlight.",
                ],
            ),
        ],
    ),
    (
        "coffee_roasting",
        "roaster_safety.pdf",
        "Roaster equipment and safety",
        [
            (
                "Choosing a roaster",
                [
                    "A hot-air popcorn popper roasts about 80 g of green coffee in six to nine minutes. "
                    "It is cheap and lets you watch the colour change, but batches are small and the "
                    "roast is fast and hard to control.",
                    "A stovetop pan or a whirley-pop roaster needs constant stirring and an oven "
                    "thermometer; expect uneven roasts at first. Home drum roasters hold 250 g to 1 kg, "
                    "turn the beans for you and let you set the heat and fan, at a higher price.",
                ],
            ),
            (
                "Chaff and smoke",
                [
                    "Green coffee sheds a papery skin called chaff during the roast. Chaff is very "
                    "flammable: empty the chaff collector after every batch and never leave a roaster "
                    "running unattended.",
                    "Roasting makes smoke, more so past first crack. Roast outdoors, under a cooker hood "
                    "that vents outside, or next to an open window with a fan blowing out. Roasting also "
                    "releases carbon monoxide, so never roast in a closed room.",
                ],
            ),
            (
                "If the beans catch fire",
                [
                    "Switch the heat off and unplug the roaster, but keep the drum or lid closed: "
                    "opening it feeds the fire with air. Keep a fire blanket or a CO2 extinguisher next "
                    "to the roaster, and never throw water on an electric roaster.",
                ],
            ),
        ],
    ),
]


def pdf_write(path: Path, title: str, pages: list[tuple[str, list[str]]]) -> Path:
    """Write one PDF with a text layer: a page per (heading, paragraphs)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    for heading, paragraphs in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.multi_cell(0, 10, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
    pdf.output(str(path))
    return path


def main() -> None:
    for example_id, filename, title, pages in PDFS:
        path = pdf_write(EXAMPLES_DIR / example_id / "files" / filename, title, pages)
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
