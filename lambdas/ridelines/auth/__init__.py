"""Login: OAuth state, redirect validation, the intervals.icu OAuth calls, JWT minting and verification."""
