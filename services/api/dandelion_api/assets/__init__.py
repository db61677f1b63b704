"""Assets: files in a version, their metadata, folder listings and downloads."""
