"""Who is calling: DANDI's `Authorization: token <key>` API keys and the permission levels."""
