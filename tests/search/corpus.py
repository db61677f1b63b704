"""A small search corpus: three dandisets (two open, one embargoed) with NWB-extracted assets,
written as the api and the ingest worker would, with their outbox rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from factories import create_asset, create_dandiset, create_extract, create_user
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus, OutboxEntity
from dandelion_common.db.models import Asset, AssetBlob, Dandiset, User, Version
from dandelion_common.outbox import emit


@dataclass
class Corpus:
    """Three dandisets (two open, one embargoed) with NWB-extracted assets."""

    owner: User
    stranger: User
    admin: User
    d1: Dandiset
    d2: Dandiset
    secret: Dandiset
    versions: dict[int, Version] = field(default_factory=dict)
    assets: dict[str, Asset] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)  # API key by user id

    def key_of(self, user: User) -> str:
        return self.keys[user.id]

    def path_of(self, asset_id: str) -> str:
        return next(a.path for a in self.assets.values() if str(a.id) == asset_id)


ECEPHYS = "electrophysiological approach"


async def add_nwb_asset(session: AsyncSession, version: Version, path: str, **facts: Any) -> Asset:
    """An asset whose blob has an extraction with `facts` (typed columns and metadata)."""
    asset = await create_asset(session, version=version, path=path)
    blob = await session.get(AssetBlob, asset.blob_id)
    assert blob is not None
    metadata = {
        "approach": [{"name": a} for a in facts.pop("approach", [])],
        "measurementTechnique": [{"name": t} for t in facts.pop("technique", [])],
        "variableMeasured": [{"value": t} for t in facts.get("neurodata_types", [])],
    }
    extract = await create_extract(session, blob, metadata=metadata)
    for name, value in facts.items():
        setattr(extract, name, value)
    asset.metadata_ = {**asset.metadata_, "encodingFormat": "application/x-nwb"}
    await session.flush()
    emit(session, OutboxEntity.ASSET, asset.id)
    return asset


async def build_corpus(session: AsyncSession) -> Corpus:
    owner, owner_key = await create_user(session)
    stranger, stranger_key = await create_user(session)
    admin, admin_key = await create_user(session, admin=True)
    d1, v1 = await create_dandiset(session, owner=stranger, name="Buzsáki hippocampus recordings")
    v1.metadata_ = {
        **v1.metadata_,
        "description": "Tetrode recordings in freely moving rats.",
        "keywords": ["place cells"],
        "contributor": [{"name": "Buzsáki, György", "schemaKey": "Person"}],
    }
    d2, v2 = await create_dandiset(session, owner=stranger, name="Slice physiology in cortex")
    secret, v3 = await create_dandiset(
        session, owner=owner, name="Secret imaging study", embargo_status=EmbargoStatus.EMBARGOED
    )
    corpus = Corpus(owner, stranger, admin, d1, d2, secret, {d.id: v for d, v in
                    ((d1, v1), (d2, v2), (secret, v3))})  # fmt: skip
    corpus.keys = {owner.id: owner_key, stranger.id: stranger_key, admin.id: admin_key}
    corpus.assets["a1"] = await add_nwb_asset(
        session, v1, "sub-01/sub-01_ecephys.nwb", species="Rattus norvegicus", sex="M",
        age_days=60.0, electrode_count=32, unit_count=12, brain_locations=["CA1"],
        neurodata_types=["ElectricalSeries", "Units"], approach=[ECEPHYS],
        technique=["spike sorting technique"],
    )  # fmt: skip
    corpus.assets["a2"] = await add_nwb_asset(
        session, v1, "sub-02/sub-02_ecephys.nwb", species="Mus musculus", sex="F",
        age_days=90.0, electrode_count=384, brain_locations=["VISp"],
        neurodata_types=["ElectricalSeries"], approach=[ECEPHYS],
    )  # fmt: skip
    corpus.assets["a3"] = await add_nwb_asset(
        session, v2, "sub-03/sub-03_icephys.nwb", species="Mus musculus", sex="F",
        age_days=30.0, neurodata_types=["VoltageClampSeries"], approach=[ECEPHYS],
        technique=["voltage clamp technique"],
    )  # fmt: skip
    corpus.assets["a4"] = await add_nwb_asset(
        session, v3, "sub-04/sub-04_ophys.nwb", species="Mus musculus", sex="M",
        age_days=120.0, brain_locations=["VISp"], neurodata_types=["TwoPhotonSeries"],
    )  # fmt: skip
    for dandiset in (d1, d2, secret):
        emit(session, OutboxEntity.DANDISET, dandiset.id)
    await session.flush()
    return corpus
