"""Regions (市/区/街道/社区): the four-level service system, and the programme's targets."""
