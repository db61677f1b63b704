"""The archive `bench_web` renders: one published dandiset at DANDI's large end, in SQL.

Dandiset 000001 has a draft and a published version (VERSION) of `assets` NWB files: one
folder (`BIG_FOLDER`) holds `folder_files` of them, the rest are 100 sessions in each of
the other subjects' folders. Both versions hold every asset (`version_assets`) and the folder
tree (`asset_paths`), as a publish leaves them (`dandelion_ingest.publish`): the published
version is Valid, the draft Published, the assets published. The metadata is a full
published document the way DANDI's large dandisets read: a dozen contributors with ORCIDs
and affiliations, funders, a description of several paragraphs, keywords, related
resources, a DOI, a citation and an assetsSummary whose counts are the seeded ones.

Rows are built by INSERT ... SELECT over generate_series, as `bench_api` seeds its million
assets, so 100,000 assets take seconds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg

DANDISET = 1
IDENTIFIER = f"{DANDISET:06}"
VERSION = "0.261201.1200"
BIG_FOLDER = "sub-0000"
SESSIONS_PER_SUBJECT = 100
WEB_URL_PLACEHOLDER = "{web_url}"  # the web origin, known only once its port is chosen

# Asset ids must look like UUID4 (DANDI's URL pattern), so the hash gets the version nibbles.
_UUID4 = "overlay(overlay(md5({seed})::text placing '4' from 13) placing '8' from 17)::uuid"

NAME = (
    "Hippocampal and entorhinal population activity in freely moving mice during spatial "
    "navigation and sleep (Neuropixels 2.0)"
)
PARAGRAPHS = [
    "We recorded extracellular activity from the dorsal hippocampus (CA1, CA3, dentate gyrus)"
    " and the medial entorhinal cortex of head-fixed and freely moving mice with chronically"
    " implanted Neuropixels 2.0 probes, over up to 100 daily sessions per animal. Each session"
    " holds a linear-track run, an open-field exploration and the sleep epochs before and"
    " after, with video tracking of the animal's position and head direction.",
    "Spikes were sorted with Kilosort 3 and curated by hand in Phy; units carry their quality"
    " metrics (isolation distance, L-ratio, ISI violations, presence ratio) and a putative"
    " cell-type label (pyramidal cell, interneuron, granule cell, mossy cell) derived from"
    " waveform shape, firing rate and autocorrelogram. Local field potentials are downsampled"
    " to 1.25 kHz; sharp-wave ripples, theta and slow oscillations are detected and stored as"
    " time intervals.",
    "Files follow NWB 2.6 with the ndx-ecephys and ndx-events extensions; one file per"
    " session contains the raw voltage traces as a compressed ElectricalSeries, the sorted"
    " units, the LFP and the behavioral time series. The `sub-0000` folder gathers the pilot"
    " animal's many short calibration sessions.",
    "Please cite the associated publications below when using these data. Code for the"
    " analyses is at the related GitHub repository; questions go to the contact person.",
]
KEYWORDS = [
    "hippocampus", "entorhinal cortex", "place cells", "grid cells", "sharp-wave ripples",
    "theta oscillations", "sleep", "spatial navigation", "Neuropixels", "electrophysiology",
    "spike sorting", "NWB",
]  # fmt: skip
PEOPLE = [
    ("Buzsáki, György", "0000-0002-3100-4800"), ("Müller, Jürgen", "0000-0001-5555-1234"),
    ("Peña, José Luis", "0000-0003-1111-2222"), ("Smith, Jane", "0000-0002-7777-8888"),
    ("Nguyễn, Linh", "0000-0001-2345-6789"), ("Kowalska, Zofia", "0000-0002-9876-5432"),
    ("Okafor, Chidi", "0000-0003-4444-5555"), ("Svoboda, Karel", "0000-0002-6670-7362"),
    ("Sato, Hana", "0000-0001-8888-9999"), ("Dupré, Élodie", "0000-0002-1212-3434"),
    ("Andersen, Lars", "0000-0003-5656-7878"), ("Rossi, Giulia", "0000-0001-9090-1010"),
]  # fmt: skip
INSTITUTES = [
    ("New York University", "https://ror.org/0190ak572"),
    ("Allen Institute", "https://ror.org/03cpe7c52"),
    ("University College London", "https://ror.org/02jx3x895"),
]


def _person(n: int, name: str, orcid: str) -> dict[str, Any]:
    roles = ["dcite:Author", "dcite:DataCollector"]
    if n == 0:
        roles = ["dcite:Author", "dcite:ContactPerson", "dcite:Supervision"]
    institute, ror = INSTITUTES[n % len(INSTITUTES)]
    return {
        "schemaKey": "Person", "name": name, "identifier": orcid,
        "email": f"{name.split(',', maxsplit=1)[0].lower().replace(' ', '')}@example.org",
        "roleName": roles, "includeInCitation": True,
        "affiliation": [{"schemaKey": "Affiliation", "name": institute, "identifier": ror}],
    }  # fmt: skip


def _funder(name: str, award: str, ror: str) -> dict[str, Any]:
    return {
        "schemaKey": "Organization", "name": name, "identifier": ror, "awardNumber": award,
        "roleName": ["dcite:Funder"], "includeInCitation": False,
    }  # fmt: skip


def _named(key: str, names: list[str], **extra: str) -> list[dict[str, str]]:
    return [{"schemaKey": key, "name": name, **extra} for name in names]


def published_document(*, assets: int, size: int, subjects: int) -> dict[str, Any]:
    """The published version's metadata; `{web_url}` stands for the web origin."""
    url = f"{WEB_URL_PLACEHOLDER}/dandiset/{IDENTIFIER}/{VERSION}"
    doi = f"10.80507/dandi.{IDENTIFIER}/{VERSION}"
    contributors = [_person(n, name, orcid) for n, (name, orcid) in enumerate(PEOPLE)]
    contributors += [
        _funder("National Institutes of Health", "U19NS104590", "https://ror.org/01cwqze88"),
        _funder("Simons Foundation", "SCGB-543011", "https://ror.org/01cmst727"),
    ]
    authors = "; ".join(name for name, _ in PEOPLE)
    related = [
        {"schemaKey": "Resource", "relation": "dcite:IsDescribedBy", "resourceType":
         "dcite:JournalArticle", "name": f"Paper {n}", "identifier": f"doi:10.1038/s41586-0{n}",
         "url": f"https://doi.org/10.1038/s41586-02{n}-0000{n}"} for n in range(1, 4)
    ] + [
        {"schemaKey": "Resource", "relation": "dcite:IsSupplementedBy", "resourceType":
         "dcite:Software", "name": "analysis code", "url": "https://github.com/example/hpc-mec"},
    ]  # fmt: skip
    summary = {
        "schemaKey": "AssetsSummary", "numberOfBytes": size, "numberOfFiles": assets,
        "numberOfSubjects": subjects, "numberOfSamples": 0, "numberOfCells": 0,
        "dataStandard": _named("StandardsType", ["Neurodata Without Borders (NWB)"],
                               identifier="RRID:SCR_015242"),
        "species": _named("SpeciesType", ["Mus musculus - House mouse"],
                          identifier="http://purl.obolibrary.org/obo/NCBITaxon_10090"),
        "approach": _named("ApproachType", ["electrophysiological approach",
                                            "behavioral approach"]),
        "measurementTechnique": _named("MeasurementTechniqueType", [
            "multi electrode extracellular electrophysiology recording technique",
            "spike sorting technique", "signal filtering technique", "behavioral technique",
            "analytical technique"]),
        "variableMeasured": ["ElectricalSeries", "LFP", "Units", "SpatialSeries", "Position",
                             "ProcessingModule", "TimeIntervals"],
    }  # fmt: skip
    activity = {
        "schemaKey": "PublishActivity", "id": "urn:uuid:5b7a2f7e-8f7a-4c1e-9d43-3f2b1a0c9e11",
        "name": "DANDELION publish", "startDate": "2026-12-01T12:00:00+00:00",
        "endDate": "2026-12-01T12:00:41+00:00",
        "wasAssociatedWith": [{"schemaKey": "Software", "identifier": "RRID:SCR_017571",
                               "name": "Dandelion API", "version": "0.1.0",
                               "id": "urn:uuid:0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"}],
    }  # fmt: skip
    return {
        "@context": "https://raw.githubusercontent.com/dandi/schema/master/releases/0.6.9/context.json",
        "schemaKey": "Dandiset", "schemaVersion": "0.6.9", "name": NAME,
        "description": "\n\n".join(PARAGRAPHS), "identifier": f"DANDI:{IDENTIFIER}",
        "id": f"DANDI:{IDENTIFIER}/{VERSION}", "version": VERSION, "url": url, "doi": doi,
        "repository": WEB_URL_PLACEHOLDER, "dateCreated": "2026-03-02T10:00:00+00:00",
        "datePublished": activity["endDate"], "publishedBy": activity,
        "citation": f"{authors} (2026) {NAME} (Version {VERSION}) [Data set]. DANDI Archive."
                    f" https://doi.org/{doi}",
        "contributor": contributors, "keywords": KEYWORDS,
        "license": ["spdx:CC-BY-4.0"],
        "access": [{"schemaKey": "AccessRequirements", "status": "dandi:OpenAccess",
                    "contactPoint": {"schemaKey": "ContactPoint",
                                     "email": "buzsaki@example.org"}}],
        "about": _named("Anatomy", ["CA1 field of hippocampus", "CA3 field of hippocampus",
                                    "dentate gyrus", "medial entorhinal cortex"]),
        "studyTarget": ["spatial coding", "memory consolidation during sleep"],
        "protocol": ["https://www.protocols.io/view/neuropixels-2-0-chronic-implant"],
        "ethicsApproval": [{"schemaKey": "EthicsApproval", "identifier": "IACUC 2021-0042",
                            "contactPoint": {"schemaKey": "ContactPoint",
                                             "email": "iacuc@example.org"}}],
        "acknowledgement": "We thank the vivarium staff and the Neuropixels consortium.",
        "wasGeneratedBy": [{"schemaKey": "Project", "name": "Hippocampal-entorhinal dialogue",
                            "description": "U19 BRAIN Initiative project",
                            "id": "urn:uuid:7d9e1f20-3a4b-4c5d-9e6f-708192a3b4c5"}],
        "relatedResource": related, "assetsSummary": summary,
        "manifestLocation": [f"https://dandiarchive.s3.amazonaws.com/dandisets/{IDENTIFIER}/"
                             f"{VERSION}/assets.yaml"],
    }  # fmt: skip


def draft_document(published: dict[str, Any]) -> dict[str, Any]:
    """The draft's stored document: the publish's fields are the API's to add."""
    computed = {
        "@context", "identifier", "id", "version", "url", "doi", "repository", "dateCreated",
        "datePublished", "publishedBy", "citation", "manifestLocation",
    }  # fmt: skip
    return {k: v for k, v in published.items() if k not in computed}


def _path_sql(folder_files: int) -> str:
    big = f"format('{BIG_FOLDER}/{BIG_FOLDER}_ses-%s_behavior+ecephys.nwb', lpad(i::text, 5, '0'))"
    subject = f"lpad(((i - {folder_files}) / {SESSIONS_PER_SUBJECT} + 1)::text, 4, '0')"
    session = f"lpad(((i - {folder_files}) % {SESSIONS_PER_SUBJECT})::text, 3, '0')"
    other = f"format('sub-%s/sub-%s_ses-%s_behavior+ecephys.nwb', {subject}, {subject}, {session})"
    return f"CASE WHEN i < {folder_files} THEN {big} ELSE {other} END"


_ASSET_METADATA = """jsonb_build_object(
    'schemaKey', 'Asset', 'schemaVersion', '0.6.9', 'id', 'dandiasset:' || asset_id,
    'identifier', asset_id, 'path', path, 'contentSize', size,
    'encodingFormat', 'application/x-nwb', 'dateModified', '2026-11-30T08:00:00+00:00',
    'digest', jsonb_build_object('dandi:dandi-etag', etag, 'dandi:sha2-256', sha256),
    'contentUrl', jsonb_build_array('https://api.example.org/api/assets/' || asset_id
        || '/download/', 'https://dandiarchive.s3.amazonaws.com/blobs/' || blob_id),
    'wasAttributedTo', jsonb_build_array(jsonb_build_object('schemaKey', 'Participant',
        'identifier', split_part(path, '/', 1), 'sex', jsonb_build_object('schemaKey',
        'SexType', 'name', 'Male'), 'age', jsonb_build_object('schemaKey', 'PropertyValue',
        'value', 'P90D'), 'species', jsonb_build_object('schemaKey', 'SpeciesType',
        'name', 'Mus musculus - House mouse'))),
    'approach', jsonb_build_array(jsonb_build_object('schemaKey', 'ApproachType',
        'name', 'electrophysiological approach')),
    'measurementTechnique', jsonb_build_array(jsonb_build_object('schemaKey',
        'MeasurementTechniqueType', 'name', 'spike sorting technique')),
    'variableMeasured', jsonb_build_array(jsonb_build_object('schemaKey', 'PropertyValue',
        'value', 'ElectricalSeries'), jsonb_build_object('schemaKey', 'PropertyValue',
        'value', 'Units')),
    'datePublished', '2026-12-01T12:00:41+00:00')"""

SEED_SQL = """
INSERT INTO users (username, email, first_name, last_name, status)
    VALUES ('buzsaki', 'buzsaki@example.org', 'György', 'Buzsáki', 'APPROVED');
INSERT INTO dandisets (id, created) VALUES ({dandiset}, '2026-03-02 10:00+00');
INSERT INTO dandiset_owners (dandiset_id, user_id) SELECT {dandiset}, id FROM users;
CREATE TEMP TABLE seed AS
    SELECT i, {path} AS path,
           {asset_id} AS asset_id, {blob_id} AS blob_id,
           md5(i::text) || '-' || (1 + i % 40) AS etag,
           md5('s' || i) || md5('t' || i) AS sha256,
           50000000 + (abs(hashtext(i::text)) % 2000000000)::bigint AS size
    FROM generate_series(0, {assets} - 1) AS i;
INSERT INTO asset_blobs (id, etag, size, sha256, ready_at)
    SELECT blob_id, etag, size, sha256, now() FROM seed;
INSERT INTO assets (id, path, blob_id, metadata, status, published)
    SELECT asset_id, path, blob_id, {metadata}, 'Valid', true FROM seed;
CREATE TEMP TABLE nodes AS
    SELECT node AS path, coalesce(substring(node from '^(.*)/[^/]*$'), '') AS parent,
           count(*) AS files, sum(size) AS size
    FROM (SELECT array_to_string((string_to_array(path, '/'))[1:k], '/') AS node, size
          FROM seed, generate_series(1, array_length(string_to_array(path, '/'), 1) - 1) AS k)
         AS n
    GROUP BY node
"""

VERSION_SQL = """
INSERT INTO version_assets (version_id, asset_id, path, created)
    SELECT {version_id}, asset_id, path, '2026-11-30 08:00+00'::timestamptz
        + i * interval '1 millisecond' FROM seed;
INSERT INTO asset_paths (version_id, path, parent, asset_id, aggregate_files, aggregate_size)
    SELECT {version_id}, path, regexp_replace(path, '/[^/]*$', ''), asset_id, 1, size FROM seed;
INSERT INTO asset_paths (version_id, path, parent, asset_id, aggregate_files, aggregate_size)
    SELECT {version_id}, path, parent, NULL, files, size FROM nodes
"""


async def seed(conn: asyncpg.Connection, *, assets: int, folder_files: int, web_url: str) -> None:
    """The dandiset, its two versions, their assets and folder trees; then VACUUM ANALYZE."""
    sql = SEED_SQL.format(
        dandiset=DANDISET, path=_path_sql(folder_files), assets=assets,
        asset_id=_UUID4.format(seed="'web-a' || i"), blob_id=_UUID4.format(seed="'web-b' || i"),
        metadata=_ASSET_METADATA,
    )  # fmt: skip  # every value formatted in is an int or a constant of this module
    async with conn.transaction():
        for statement in filter(str.strip, sql.split(";\n")):
            await conn.execute(statement)
        size = int(await conn.fetchval("SELECT sum(size) FROM seed"))
        subjects = await conn.fetchval("SELECT count(*) FROM nodes WHERE parent = ''")
        document = published_document(assets=assets, size=size, subjects=subjects)
        text = json.dumps(document).replace(WEB_URL_PLACEHOLDER, web_url)
        insert = (
            "INSERT INTO versions (dandiset_id, version, name, metadata, status, asset_count,"
            " size, created, modified) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7,"
            " $8::timestamptz, $8::timestamptz) RETURNING id"
        )
        draft = draft_document(json.loads(text))
        for version, status, metadata, when in (
            ("draft", "Published", json.dumps(draft), datetime(2026, 11, 30, 8, tzinfo=UTC)),
            (VERSION, "Valid", text, datetime(2026, 12, 1, 12, tzinfo=UTC)),
        ):
            version_id = await conn.fetchval(
                insert, DANDISET, version, NAME, metadata, status, assets, size, when
            )
            for statement in VERSION_SQL.format(version_id=int(version_id)).split(";\n"):
                await conn.execute(statement)
    await conn.execute("VACUUM ANALYZE")
