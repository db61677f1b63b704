"""One module per page (or family of pages); each exports a `router`."""
