"""Every request and response schema of the API, in one place (one module per area)."""
