"""Uploaded images and PDFs: need photos, expense evidence, avatars."""
