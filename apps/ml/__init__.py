"""Few-shot text classifiers (SetFit) and anomaly detectors, versioned: the ML section of
specs/projects-rag-api.txt."""
