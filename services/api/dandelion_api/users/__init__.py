"""Users and their API keys: `/api/users/...` and `/api/auth/token/`."""
