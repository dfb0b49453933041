"""Authentication: passwords, sign-in, second factor, lockout, sessions,
JWT, API keys, IP allowlists and rate limits."""
