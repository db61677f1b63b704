"""The synthetic corpus of `bench_search`: dandisets of NWB assets with DANDI-like skews.

One seeded random stream gives each asset three shapes: the search document our indexer
would write (the OpenSearch `_source`, which the PostgreSQL load reads too), the real
`AssetDocument` (so a sample goes through `asset_row` and `bulk_upsert` unchanged), and the
asset metadata DANDI's JSON-path filters read. Species, brain regions and dandiset sizes
follow power laws; a dandiset has one or two species and modalities, and its assets draw
from those; about 2% of dandisets are embargoed.
"""

from __future__ import annotations

import functools
import json
import math
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dandelion_search.backends.base import sample_bucket
from dandelion_search.documents import (
    AssetDocument,
    DandisetDocument,
    VersionSummary,
    identifier,
)
from dandelion_search.folding import fold
from dandelion_search.hierarchy import TECHNIQUE, techniques
from dandelion_search.schemas import Facet

NWB = "application/x-nwb"
EMBARGOED_SHARE = 0.02
SESSIONS_PER_SUBJECT = 20
EPOCH = datetime(2019, 1, 1, tzinfo=UTC)

SPECIES = [
    "Mus musculus", "Homo sapiens", "Rattus norvegicus", "Macaca mulatta", "Danio rerio",
    "Drosophila melanogaster", "Caenorhabditis elegans", "Callithrix jacchus",
    "Macaca fascicularis", "Mustela putorius furo", "Felis catus", "Oryctolagus cuniculus",
    "Sus scrofa", "Gallus gallus", "Xenopus laevis", "Taeniopygia guttata", "Cavia porcellus",
    "Meriones unguiculatus", "Tupaia belangeri", "Octopus vulgaris",
]  # fmt: skip
COMMON = {"Mus musculus": "mice", "Homo sapiens": "humans", "Rattus norvegicus": "rats",
          "Macaca mulatta": "macaques", "Danio rerio": "zebrafish"}  # fmt: skip
AGE_DAYS = {"Mus musculus": (21, 200), "Homo sapiens": (6000, 30000),
            "Rattus norvegicus": (30, 300), "Macaca mulatta": (1500, 7000),
            "Danio rerio": (3, 30), "Drosophila melanogaster": (1, 30),
            "Caenorhabditis elegans": (1, 5)}  # fmt: skip
REGIONS = [
    "CA1", "VISp", "MOp", "CA3", "DG", "SSp", "PFC", "STR", "TH", "ACA", "VISl", "MOs", "RSP",
    "PL", "ILA", "ORB", "PPC", "LGd", "LP", "HY", "CP", "ACB", "GPe", "SNr", "VTA", "BLA",
    "CEA", "PAG", "SC", "IC", "CB", "VPM", "PO", "ENT", "PIR", "OB", "AUDp", "V1", "V2", "M1",
    "S1", "dlPFC", "OFC", "ACC", "IT", "MT", "LIP", "FEF", "HPC", "AMY",
]  # fmt: skip
TOPICS = [
    "Place cells in the hippocampus", "Visual cortex responses to natural scenes",
    "Motor cortex dynamics during reaching", "Thalamocortical oscillations in sleep",
    "Striatal dopamine and reward learning", "Odor coding in the olfactory bulb",
    "Sound tuning in auditory cortex", "Cerebellar Purkinje cell activity",
    "Amygdala circuits of fear conditioning", "Prefrontal cortex and working memory",
    "Hippocampus sharp-wave ripples", "Grid cells of the entorhinal cortex",
]  # fmt: skip
PEOPLE = [
    "Buzsáki, György", "Müller, Jürgen", "Peña, José", "Smith, Jane", "Nguyễn, Linh",
    "Kowalska, Zofia", "Okafor, Chidi", "Svoboda, Karel", "Sato, Hana", "Dupré, Élodie",
]  # fmt: skip
KEYWORDS = [
    "neuropixels", "calcium imaging", "spike sorting", "behavior", "sleep", "learning",
    "optogenetics", "decision making", "navigation", "vision", "memory", "reward",
]  # fmt: skip
SEX_VALUES, SEX_WEIGHTS = ("M", "F", "U"), (0.45, 0.45, 0.1)


@dataclass(frozen=True)
class Modality:
    suffix: str
    approach: str
    phrase: str
    type_sets: tuple[tuple[str, ...], ...]
    electrodes: tuple[int, ...] = ()  # no electrode count when empty
    weight: float = 1.0


MODALITIES = (
    Modality("ecephys", "electrophysiological approach", "Neuropixels recordings",
             (("ElectricalSeries", "Units"), ("ElectricalSeries", "LFP"),
              ("ElectricalSeries", "SpikeEventSeries", "Units")),
             (16, 32, 64, 128, 256, 384, 768), 0.45),
    Modality("icephys", "electrophysiological approach", "patch-clamp recordings",
             (("CurrentClampSeries", "VoltageClampSeries"), ("CurrentClampSeries",),
              ("VoltageClampSeries", "IZeroClampSeries")), (), 0.15),
    Modality("ophys", "microscopy approach; cell population imaging",
             "two-photon calcium imaging",
             (("TwoPhotonSeries", "ImageSegmentation", "RoiResponseSeries"),
              ("OnePhotonSeries", "RoiResponseSeries")), (), 0.25),
    Modality("behavior", "behavioral approach", "behavioral tracking",
             (("Position", "SpatialSeries"), ("BehavioralEvents", "PupilTracking")), (), 0.15),
)  # fmt: skip


def _zipf(count: int, exponent: float) -> list[float]:
    return [1 / (rank + 1) ** exponent for rank in range(count)]


SPECIES_WEIGHTS = _zipf(len(SPECIES), 1.3)
REGION_WEIGHTS = _zipf(len(REGIONS), 0.9)


@functools.lru_cache(maxsize=200_000)
def _folded(part: str) -> str:
    return fold([part])


def folded(parts: Sequence[str | None]) -> str:
    """`fold(parts)` from cached per-part folds (equal: fold joins the words of all parts)."""
    return " ".join(f for part in parts if part and (f := _folded(part)))


def dandi_techniques(types: Sequence[str]) -> list[str]:
    """DANDI's measurementTechnique: the exact types' techniques, no NWB ancestors (#2907)."""
    return sorted({TECHNIQUE[t] for t in types if t in TECHNIQUE})


@dataclass
class Dandiset:
    """A dandiset's profile (what its assets draw from) and what its assets brought."""

    id: int
    name: str
    description: str
    keywords: list[str]
    contributors: list[str]
    embargoed: bool
    species: list[str]
    modalities: list[Modality]
    regions: list[str]
    probes: dict[str, int]
    created: datetime
    asset_count: int
    facets: dict[Facet, set[str]] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    size: int = 0

    @property
    def identifier(self) -> str:
        return identifier(self.id)

    def add(self, doc: dict[str, Any]) -> None:
        for facet, values in _asset_facets(doc).items():
            self.facets.setdefault(facet, set()).update(values)
        for name in ("age_days", "electrode_count"):
            if (value := doc[name]) is not None:
                low, high = self.ranges.get(name, (value, value))
                self.ranges[name] = (min(low, value), max(high, value))
        self.size += doc["size"]


@dataclass(frozen=True)
class AssetRecord:
    """One asset in its three shapes (see the module docstring)."""

    document: dict[str, Any]  # `AssetDocument.model_dump(mode="json")`
    source: dict[str, Any]  # the search document, as OpenSearch stores it
    dandi: dict[str, Any]  # DANDI's asset metadata

    @property
    def id(self) -> str:
        return str(self.document["asset_id"])

    def asset_document(self) -> AssetDocument:
        return AssetDocument.model_validate(self.document)


def _one(value: object) -> list[str]:
    return [str(value)] if value else []


def _asset_facets(doc: dict[str, Any]) -> dict[Facet, list[str]]:
    """The facets `documents.asset_row` derives from an asset document, in its order."""
    return {
        Facet.SPECIES: _one(doc["species"]),
        Facet.SEX: _one(doc["sex"]),
        Facet.APPROACH: doc["approach"],
        Facet.TECHNIQUE: doc["technique"],
        Facet.VARIABLE: doc["variable"],
        Facet.BRAIN_REGION: doc["brain_regions"],
        Facet.NEURODATA_TYPE: doc["neurodata_types"],
        Facet.DANDISET: [doc["dandiset_id"]],
        Facet.ENCODING_FORMAT: _one(doc["encoding_format"]),
    }


def asset_source(doc: dict[str, Any]) -> dict[str, Any]:
    """What `_source(asset_row(AssetDocument(**doc)))` gives, built without pydantic and
    without re-folding the same strings a million times (folding is 80% of `asset_row`'s
    cost). `bench_search` checks the two are equal on its sample."""
    facets = _asset_facets(doc)
    body = [doc["dandiset_id"], doc["dandiset_name"], *(v for vs in facets.values() for v in vs)]
    return {
        "id": doc["asset_id"],
        "dandiset_id": int(doc["dandiset_id"]),
        "embargoed": doc["embargoed"],
        "title": doc["path"],
        "description": "",
        "title_text": folded([doc["path"]]),
        "body_text": folded(body),
        "sort_name": doc["path"],
        "size": doc["size"],
        "modified": doc["modified"],
        "document": doc,
        **{facet.value: values for facet, values in facets.items()},
        "age_days_min": doc["age_days"],
        "age_days_max": doc["age_days"],
        "electrode_count_min": doc["electrode_count"],
        "electrode_count_max": doc["electrode_count"],
        "sample": sample_bucket(doc["asset_id"]),
    }


def dandi_asset(doc: dict[str, Any]) -> dict[str, Any]:
    """The asset's metadata as DANDI stores it (dandischema's shape). `age.days` and
    `electrodeCount` are not in dandischema: they give the range filters a JSON-path twin."""
    participant: dict[str, Any] = {
        "schemaKey": "Participant",
        "identifier": doc["path"].split("/")[0],
        "species": {"schemaKey": "SpeciesType", "name": doc["species"]},
        "sex": {"schemaKey": "SexType", "name": doc["sex"]},
        "age": {"value": f"P{int(doc['age_days'])}D", "days": doc["age_days"]},
    }
    types = doc["neurodata_types"]
    meta: dict[str, Any] = {
        "schemaKey": "Asset",
        "identifier": doc["asset_id"],
        "path": doc["path"],
        "contentSize": doc["size"],
        "encodingFormat": doc["encoding_format"],
        "dateModified": doc["modified"],
        "wasAttributedTo": [participant],
        "approach": [{"schemaKey": "ApproachType", "name": a} for a in doc["approach"]],
        "measurementTechnique": [{"name": t} for t in dandi_techniques(types)],
        "variableMeasured": [{"schemaKey": "PropertyValue", "value": t} for t in types],
        "about": [{"schemaKey": "Anatomy", "name": r} for r in doc["brain_regions"]],
    }
    if doc["electrode_count"] is not None:
        meta["electrodeCount"] = doc["electrode_count"]
    return meta


class Corpus:
    """`assets` assets spread over `dandisets` dandisets, the same for a given seed."""

    def __init__(self, *, assets: int, dandisets: int, seed: int = 5) -> None:
        self.rng = random.Random(seed)
        self.dandisets = [self._dandiset(i + 1) for i in range(dandisets)]
        for dandiset, count in zip(self.dandisets, self._split(assets, dandisets), strict=True):
            dandiset.asset_count = count

    def _split(self, total: int, parts: int) -> list[int]:
        """Pareto-distributed sizes (a few huge dandisets, many small), each at least 1,
        none above a tenth of the corpus."""
        weights = [min(self.rng.paretovariate(1.1), 1e4) for _ in range(parts)]
        scale = max(total - parts, 0) / sum(weights)
        counts = [1 + math.floor(w * scale) for w in weights]
        counts[0] += total - sum(counts)  # rounding leftovers (may make #1 the biggest)
        return counts

    def _dandiset(self, dandiset_id: int) -> Dandiset:
        rng = self.rng
        species = rng.choices(SPECIES, SPECIES_WEIGHTS, k=1 + (rng.random() < 0.15))
        modalities = rng.choices(
            MODALITIES, [m.weight for m in MODALITIES], k=1 + (rng.random() < 0.2)
        )
        regions = sorted(set(rng.choices(REGIONS, REGION_WEIGHTS, k=rng.randint(1, 3))))
        topic = rng.choice(TOPICS)
        animal = COMMON.get(species[0], species[0])
        return Dandiset(
            id=dandiset_id,
            name=f"{topic}: {modalities[0].phrase} in {animal}",
            description=f"{topic} studied with {' and '.join(m.phrase for m in modalities)} "
            f"in {animal}, recorded in {', '.join(regions)}.",
            keywords=rng.sample(KEYWORDS, rng.randint(1, 4)),
            contributors=rng.sample(PEOPLE, rng.randint(1, 3)),
            embargoed=rng.random() < EMBARGOED_SHARE,
            species=list(dict.fromkeys(species)),
            modalities=list(dict.fromkeys(modalities)),
            regions=regions,
            probes={m.suffix: rng.choice(m.electrodes) for m in modalities if m.electrodes},
            created=EPOCH + timedelta(seconds=rng.randrange(190_000_000)),
            asset_count=0,
        )

    def _asset(self, dandiset: Dandiset, n: int) -> AssetRecord:
        rng = self.rng
        modality = rng.choice(dandiset.modalities)
        types = sorted(rng.choice(modality.type_sets))
        species = dandiset.species[0] if rng.random() < 0.8 else rng.choice(dandiset.species)
        low, high = AGE_DAYS.get(species, (30, 365))
        regions = sorted(set(rng.choices(dandiset.regions, k=rng.randint(1, 2))))
        subject = f"sub-{n // SESSIONS_PER_SUBJECT:04d}"
        session = f"ses-{n % SESSIONS_PER_SUBJECT:02d}"
        modified = dandiset.created + timedelta(seconds=rng.randrange(30_000_000))
        # Keys in AssetDocument's field order, values as its JSON dump has them.
        doc = {
            "asset_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "path": f"{subject}/{subject}_{session}_{modality.suffix}.nwb",
            "dandiset_id": dandiset.identifier,
            "dandiset_name": dandiset.name,
            "versions": ["draft"],
            "embargoed": dandiset.embargoed,
            "size": int(math.exp(rng.gauss(18.5, 1.6))),
            "encoding_format": NWB,
            "modified": modified.isoformat().replace("+00:00", "Z"),
            "species": species,
            "sex": rng.choices(SEX_VALUES, SEX_WEIGHTS)[0],
            "age_days": float(rng.randint(low, high)),
            "approach": [modality.approach],
            "technique": techniques(types),
            "variable": types,
            "brain_regions": regions,
            "neurodata_types": types,
            "electrode_count": dandiset.probes.get(modality.suffix),
            "unit_count": rng.randint(5, 500) if "Units" in types else None,
            "duration_seconds": float(rng.randint(60, 7200)),
        }
        dandiset.add(doc)
        return AssetRecord(doc, asset_source(doc), dandi_asset(doc))

    def assets(self) -> Iterator[AssetRecord]:
        """Every asset, dandiset by dandiset (call once: it fills the dandisets' facets)."""
        for dandiset in self.dandisets:
            for n in range(dandiset.asset_count):
                yield self._asset(dandiset, n)

    def dandiset_document(self, d: Dandiset) -> DandisetDocument:
        """What `documents.dandiset_rows` builds for `d` (after `assets()` was consumed)."""
        facets = {facet: sorted(values) for facet, values in d.facets.items()}
        age = d.ranges.get("age_days")
        electrodes = d.ranges.get("electrode_count")
        modified = d.created + timedelta(days=30)
        draft = VersionSummary(
            version="draft", name=d.name, status="Valid", created=d.created, modified=modified
        )
        return DandisetDocument(
            identifier=d.identifier,
            dandiset_id=d.id,
            name=d.name,
            description=d.description,
            keywords=d.keywords,
            contributors=d.contributors,
            embargo_status="EMBARGOED" if d.embargoed else "OPEN",
            owners=["bench"],
            created=d.created,
            modified=modified,
            published=None,
            draft_version=draft,
            most_recent_published_version=None,
            asset_count=d.asset_count,
            size=d.size,
            species=facets.get(Facet.SPECIES, []),
            sex=facets.get(Facet.SEX, []),
            approach=facets.get(Facet.APPROACH, []),
            technique=facets.get(Facet.TECHNIQUE, []),
            variable=facets.get(Facet.VARIABLE, []),
            encoding_format=facets.get(Facet.ENCODING_FORMAT, []),
            brain_regions=facets.get(Facet.BRAIN_REGION, []),
            neurodata_types=facets.get(Facet.NEURODATA_TYPE, []),
            age_days_min=age[0] if age else None,
            age_days_max=age[1] if age else None,
            electrode_count_min=int(electrodes[0]) if electrodes else None,
            electrode_count_max=int(electrodes[1]) if electrodes else None,
        )

    @staticmethod
    def dandi_version(d: Dandiset) -> dict[str, Any]:
        """The draft version's metadata as DANDI stores it, with its assetsSummary."""
        types = sorted(d.facets.get(Facet.NEURODATA_TYPE, set()))
        summary = {
            "schemaKey": "AssetsSummary",
            "numberOfFiles": d.asset_count,
            "numberOfBytes": d.size,
            "species": [{"name": s} for s in sorted(d.facets.get(Facet.SPECIES, set()))],
            "approach": [{"name": a} for a in sorted(d.facets.get(Facet.APPROACH, set()))],
            "measurementTechnique": [{"name": t} for t in dandi_techniques(types)],
            "variableMeasured": types,
            "dataStandard": [{"name": "Neurodata Without Borders (NWB)"}],
        }
        return {
            "schemaKey": "Dandiset",
            "identifier": f"DANDI:{d.identifier}",
            "name": d.name,
            "description": d.description,
            "keywords": d.keywords,
            "contributor": [{"schemaKey": "Person", "name": p} for p in d.contributors],
            "dateCreated": d.created.isoformat(),
            "assetsSummary": summary,
        }


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
