"""Forecast models (Chronos-2, Chronos-Bolt, TimesFM, Toto, statistical baselines): registry, pull,
forecast, fine-tune, evaluate. Served on the forecast surface (specs/forecast-api.txt)."""
