"""NWB neurodata types → DANDI's approach and measurement technique (dandi-cli's table).

dandi-cli looks up exact type names only, so an extension type (or a core subtype missing from
the table, such as IZeroClampSeries) contributes nothing. We walk the type's NWB hierarchy,
read from the file's own specifications, and use the nearest ancestor the table knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ECEPHYS = "electrophysiological approach"
OPHYS = "microscopy approach; cell population imaging"
BEHAVIOR = "behavioral approach"
OGEN = "optogenetic approach"
SPIKE_SORTING = "spike sorting technique"
BEHAVIORAL = "behavioral technique"
FOURIER = "fourier analysis technique"


@dataclass(frozen=True)
class Modality:
    approach: str | None
    technique: str | None


TYPEMAP: Mapping[str, Modality] = {
    "ElectricalSeries": Modality(
        ECEPHYS, "multi electrode extracellular electrophysiology recording technique"
    ),
    "SpikeEventSeries": Modality(ECEPHYS, SPIKE_SORTING),
    "FeatureExtraction": Modality(ECEPHYS, SPIKE_SORTING),
    "EventWaveform": Modality(ECEPHYS, SPIKE_SORTING),
    "EventDetection": Modality(ECEPHYS, SPIKE_SORTING),
    "Units": Modality(ECEPHYS, SPIKE_SORTING),
    "LFP": Modality(ECEPHYS, "signal filtering technique"),
    "ElectrodeGroup": Modality(ECEPHYS, "surgical technique"),
    "PatchClampSeries": Modality(ECEPHYS, "patch clamp technique"),
    "CurrentClampSeries": Modality(ECEPHYS, "current clamp technique"),
    "CurrentClampStimulusSeries": Modality(ECEPHYS, "current clamp technique"),
    "VoltageClampSeries": Modality(ECEPHYS, "voltage clamp technique"),
    "VoltageClampStimulusSeries": Modality(ECEPHYS, "voltage clamp technique"),
    "TwoPhotonSeries": Modality(OPHYS, "two-photon microscopy technique"),
    "OnePhotonSeries": Modality(OPHYS, "one-photon microscopy technique"),
    "OpticalChannel": Modality(OPHYS, "surgical technique"),
    "ImagingPlane": Modality(OPHYS, None),
    "PlaneSegmentation": Modality(OPHYS, None),
    "Position": Modality(BEHAVIOR, BEHAVIORAL),
    "SpatialSeries": Modality(BEHAVIOR, BEHAVIORAL),
    "BehavioralEpochs": Modality(BEHAVIOR, BEHAVIORAL),
    "BehavioralEvents": Modality(BEHAVIOR, BEHAVIORAL),
    "BehavioralTimeSeries": Modality(BEHAVIOR, BEHAVIORAL),
    "PupilTracking": Modality(BEHAVIOR, BEHAVIORAL),
    "EyeTracking": Modality(BEHAVIOR, BEHAVIORAL),
    "CompassDirection": Modality(BEHAVIOR, BEHAVIORAL),
    # dandi-cli spells the stimulus site "OptogeneticStimulusSIte", so it never matches;
    # we keep that behaviour rather than invent a mapping DANDI does not make.
    "OptogeneticSeries": Modality(OGEN, None),
    "ProcessingModule": Modality(None, "analytical technique"),
    "RGBImage": Modality(None, "photographic technique"),
    "DecompositionSeries": Modality(None, FOURIER),
    "Spectrum": Modality(None, FOURIER),
}


def known_type(name: str, ancestors: Sequence[str] = ()) -> str | None:
    """The type itself if the table knows it, else its nearest known ancestor."""
    for candidate in (name, *ancestors):
        if candidate in TYPEMAP:
            return candidate
    return None


@dataclass(frozen=True)
class Modalities:
    approaches: list[str]
    techniques: list[str]
    variables: list[str]  # the known NWB type names, as DANDI's variableMeasured


def modalities(types: Iterable[str], ancestors: Mapping[str, Sequence[str]]) -> Modalities:
    """Sorted, distinct approaches, techniques and measured types for the types in a file."""
    known = {k for name in types if (k := known_type(name, ancestors.get(name, ())))}
    approaches = {a for k in known if (a := TYPEMAP[k].approach)}
    techniques = {t for k in known if (t := TYPEMAP[k].technique)}
    return Modalities(sorted(approaches), sorted(techniques), sorted(known))
