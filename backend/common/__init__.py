"""Small helpers shared by every domain package."""
