"""The journal: every movement of money as a balanced entry; balances derive from it."""
