"""Refunds of paid donations, and what becomes of a closed need's money left over."""
