"""Species names to NCBITaxon ids, offline: a bundled table in place of dandi-cli's ontobee
lookups, so extraction never waits on (or fails with) a third-party web service."""

from __future__ import annotations

import re
from dataclasses import dataclass

TAXON_URI = "http://purl.obolibrary.org/obo/NCBITaxon_{}"
_TAXON_REF = re.compile(
    r"(?:https?://purl\.obolibrary\.org/obo/NCBITaxon_|NCBITaxon:)(\d+)/?", re.IGNORECASE
)


@dataclass(frozen=True)
class Species:
    taxon_id: str
    latin: str
    common: str
    aliases: tuple[str, ...] = ()  # lower-case extra names
    genus_prefix: str | None = None  # a value whose first word is this genus means this species

    @property
    def uri(self) -> str:
        return TAXON_URI.format(self.taxon_id)

    @property
    def name(self) -> str:
        """DANDI's display form, "Latin - Common"."""
        return f"{self.latin} - {self.common}"

    def names(self) -> set[str]:
        return {self.latin.lower(), self.common.lower(), self.name.lower(), *self.aliases}


TABLE: tuple[Species, ...] = (
    Species("10090", "Mus musculus", "House mouse", ("mouse", "mice"), "mus"),
    Species("9606", "Homo sapiens", "Human", ("human",), "homo"),
    Species("10116", "Rattus norvegicus", "Norway rat", ("rat", "rats", "brown rat", "norvegicus")),
    Species("10117", "Rattus rattus", "Black rat", ("black rat",)),
    Species("9544", "Macaca mulatta", "Rhesus monkey", ("rhesus", "rhesus macaque", "mulatta")),
    Species("9541", "Macaca fascicularis", "Crab-eating macaque", ("cynomolgus", "fascicularis")),
    Species("9545", "Macaca nemestrina", "Pig-tailed macaque", ("pigtail macaque",)),
    Species("9548", "Macaca radiata", "Bonnet macaque", ("bonnet monkey", "radiata")),
    Species("9483", "Callithrix jacchus", "Common marmoset", ("marmoset", "jacchus")),
    Species("7227", "Drosophila melanogaster", "Fruit fly", ("fruit fly", "melanogaster")),
    Species("7955", "Danio rerio", "Zebra fish", ("zebrafish", "danio"), "danio"),
    Species("6239", "Caenorhabditis elegans", "Roundworm", ("c. elegans",), "caenorhabditis"),
    Species("10047", "Meriones unguiculatus", "Mongolian gerbil", ("gerbil", "mongolian jird")),
    Species("30207", "Polistes fuscatus", "Common paper wasp", ()),
    Species("9685", "Felis catus", "Domestic cat", ("cat",)),
    Species("9669", "Mustela putorius furo", "Domestic ferret", ("ferret",)),
    Species("9823", "Sus scrofa", "Pig", ("pig",)),
    Species("9031", "Gallus gallus", "Chicken", ("chicken",)),
    Species("59729", "Taeniopygia guttata", "Zebra finch", ("zebra finch",)),
    Species("8355", "Xenopus laevis", "African clawed frog", ("xenopus",)),
)
_BY_TAXON = {species.taxon_id: species for species in TABLE}


@dataclass(frozen=True)
class SpeciesMatch:
    """What a species value means: the table entry, or only a URI/name we cannot resolve."""

    uri: str | None
    name: str | None  # DANDI's "Latin - Common" when known, else the value as given
    latin: str | None  # normalised Latin binomial, for search; None when unknown


def match_species(value: str | None) -> SpeciesMatch | None:
    """Resolve a free-form species value; None for an empty one."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if ref := _TAXON_REF.fullmatch(text):
        known = _BY_TAXON.get(ref[1])
        if known is None:  # dandi-cli asks ontobee for the label; we keep the URI alone
            return SpeciesMatch(TAXON_URI.format(ref[1]), None, None)
        return _found(known)
    known = _by_name(text.lower())
    return _found(known) if known else SpeciesMatch(None, text, None)


def _by_name(lowered: str) -> Species | None:
    for species in TABLE:
        if lowered in species.names():
            return species
    genus = lowered.split(maxsplit=1)[0]
    for species in TABLE:  # "Mus musculus C57BL/6", "mus": the genus decides (not "mustela")
        if species.genus_prefix and genus == species.genus_prefix:
            return species
    return None


def _found(species: Species) -> SpeciesMatch:
    return SpeciesMatch(species.uri, species.name, species.latin)
