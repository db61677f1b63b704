"""Dandisets: listing, creation, deletion, owners, stars and pending uploads."""
