"""Foundations (基金会) and the community funds (社区慈善基金) they host."""
