"""Uploads: DANDI's multipart protocol; bytes go straight from the client to S3."""
