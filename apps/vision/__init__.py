"""OCR and document extraction: the Vision section of specs/projects-rag-api.txt (the OCR engines
live in apps.inference, so apps.rag can OCR scanned pages too)."""
