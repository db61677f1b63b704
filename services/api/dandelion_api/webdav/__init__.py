"""The helper dandi-webdav (dandidav) uses: resolve a path in a version to an asset or folder."""
