"""Modelyard: a self-hosted platform for teams that run models in-house."""

__version__ = "0.1.0"
