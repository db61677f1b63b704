"""NWB files read server-side: metadata extraction (`extract`), its dandischema form
(`mapping`) and validation/inspection (`inspect`). Blocking code: run it in a process pool."""

from dandelion_ingest.nwb.errors import ExtractionError, NotNwbError, RemoteReadError
from dandelion_ingest.nwb.extract import EXTRACTOR_VERSION, Extraction, extract_file, extract_url
from dandelion_ingest.nwb.inspect import Finding, Inspection, inspect_file, inspect_url
from dandelion_ingest.nwb.mapping import asset_metadata

__all__ = [
    "EXTRACTOR_VERSION",
    "Extraction",
    "ExtractionError",
    "Finding",
    "Inspection",
    "NotNwbError",
    "RemoteReadError",
    "asset_metadata",
    "extract_file",
    "extract_url",
    "inspect_file",
    "inspect_url",
]
