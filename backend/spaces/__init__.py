"""Charity spaces (慈善空间): physical places with QR codes donors scan."""
