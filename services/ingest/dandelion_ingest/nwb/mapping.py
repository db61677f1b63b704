"""An Extraction as a dandischema (0.8.0) BareAsset fragment, following dandi-cli's nwb2asset.

Plain JSON dicts, not dandischema models: importing `dandischema.models` needs the instance
configuration first, and the worker stores JSON anyway. Tests validate the output against
`dandischema.models.Asset`. Deliberate differences from dandi-cli, all on the lenient side:
- values dandi-cli rejects (unknown sex or species text, unparseable age) are left out instead
  of failing the whole extraction; the raw values stay on the Extraction;
- an unknown NCBITaxon URI is kept without a name (no ontobee lookup);
- no Participant without a subject_id (dandischema requires its identifier);
- extension types map through their NWB parents (see typemap).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from dandelion_ingest.nwb.extract import Extraction, SubjectFacts, subject_age
from dandelion_ingest.nwb.species import match_species
from dandelion_ingest.nwb.subject import match_sex
from dandelion_ingest.nwb.typemap import modalities

SOFTWARE_NAME = "Dandelion ingest"
NAME_LIMIT = 150  # dandischema's max_length for names


def asset_metadata(extraction: Extraction) -> dict[str, Any]:
    """The BareAsset fields an NWB file determines; merge into the asset's metadata."""
    found = modalities(extraction.neurodata_types, extraction.neurodata_type_ancestors)
    fragment: dict[str, Any] = {
        "encodingFormat": "application/x-nwb",
        "wasAttributedTo": _participants(extraction),
        "wasGeneratedBy": [*_sessions(extraction), _generation(extraction)],
        "approach": [{"schemaKey": "ApproachType", "name": n} for n in found.approaches],
        "measurementTechnique": [
            {"schemaKey": "MeasurementTechniqueType", "name": n} for n in found.techniques
        ],
        "variableMeasured": [{"schemaKey": "PropertyValue", "value": n} for n in found.variables],
        "keywords": list(extraction.keywords),
        "relatedResource": _related(extraction.related_publications),
    }
    return {key: value for key, value in fragment.items() if value}


def _participants(extraction: Extraction) -> list[dict[str, Any]]:
    subject = extraction.subject
    if subject is None or not subject.subject_id:
        return []
    participant: dict[str, Any] = {
        "schemaKey": "Participant",
        "identifier": subject.subject_id,
        "species": _species(subject.species),
        "sex": _sex(subject.sex),
        "age": _age(subject, extraction.session_start_time),
        "genotype": subject.genotype,
        **_strain(subject.strain),
    }
    return [{key: value for key, value in participant.items() if value is not None}]


def _species(value: str | None) -> dict[str, Any] | None:
    found = match_species(value)
    if found is None:
        return None
    return _typed("SpeciesType", found.uri, found.name)


def _sex(value: str | None) -> dict[str, Any] | None:
    found = match_sex(value)
    return _typed("SexType", found.uri, found.name) if found else None


def _typed(schema_key: str, identifier: str | None, name: str | None) -> dict[str, Any]:
    typed: dict[str, Any] = {"schemaKey": schema_key}
    if identifier:
        typed["identifier"] = identifier
    if name:
        typed["name"] = name[:NAME_LIMIT]
    return typed


def _age(subject: SubjectFacts, session_start: datetime | None) -> dict[str, Any] | None:
    age = subject_age(subject, session_start)
    if age is None:
        return None
    return {
        "schemaKey": "PropertyValue",
        "value": age.iso,
        "unitText": "ISO-8601 duration",
        "valueReference": {
            "schemaKey": "PropertyValue",
            "value": f"dandi:{age.reference}Reference",
        },
    }


def _strain(value: str | None) -> dict[str, Any]:
    # dandi-cli's convention: "cellline: HEK293" names a cell line, not a strain.
    if not value:
        return {}
    if value.lower().startswith("cellline:"):
        return {"cellLine": value.split(":", 1)[1].strip()}
    return {"strain": {"schemaKey": "StrainType", "name": value[:NAME_LIMIT]}}


def _sessions(extraction: Extraction) -> list[dict[str, Any]]:
    start = extraction.session_start_time
    if extraction.session_id is None and start is None:
        return []
    session: dict[str, Any] = {
        "schemaKey": "Session",
        "identifier": extraction.session_id,
        "name": (extraction.session_id or "Acquisition session")[:NAME_LIMIT],
        "description": extraction.session_description,
        "startDate": start.isoformat() if start else None,
        "endDate": _end(start, extraction.duration_seconds),
    }
    return [{key: value for key, value in session.items() if value is not None}]


def _end(start: datetime | None, duration: float | None) -> str | None:
    if start is None or duration is None:
        return None
    return (start + timedelta(seconds=duration)).isoformat()


def _generation(extraction: Extraction) -> dict[str, Any]:
    """The Activity naming our software, as dandi-cli names itself (no RRID for us)."""
    activity: dict[str, Any] = {
        "schemaKey": "Activity",
        "name": "Metadata generation",
        "description": "Metadata extracted from the NWB file by Dandelion's ingest worker",
        "wasAssociatedWith": [
            {
                "schemaKey": "Software",
                "name": SOFTWARE_NAME,
                "version": extraction.extractor_version,
            }
        ],
    }
    if extraction.started is not None:
        activity["startDate"] = extraction.started.isoformat()
        activity["endDate"] = _end(extraction.started, extraction.seconds)
    return activity


def _related(publications: list[str]) -> list[dict[str, Any]]:
    """doi.org URLs only, as dandi-cli does; "doi:..." and "PMID:..." are dropped."""
    return [
        {"schemaKey": "Resource", "identifier": url, "relation": "dcite:IsDescribedBy"}
        for url in publications
        if _is_doi_url(url)
    ]


def _is_doi_url(value: str) -> bool:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.hostname == "doi.org"
