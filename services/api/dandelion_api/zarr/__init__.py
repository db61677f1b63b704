"""Zarr archives: DANDI's ZarrViewSet (create, list, file uploads and deletes as presigned S3
requests, finalize), and read-only serving of the immutable snapshots published versions hold."""
