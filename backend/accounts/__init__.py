"""Users (WeChat identities) and their scoped role grants."""
