"""NWB neurodata types → the technique terms search should know them by.

DANDI derives `measurementTechnique` from exact type names only, so VoltageClampSeries says
"voltage clamp technique" and never "patch clamp technique", and a search for patch clamp
misses it (dandi-archive #2907). We expand each type through its NWB ancestors: the parent
map below is the core (pynwb) hierarchy of the types DANDI's table knows (a test checks it
against pynwb's classes), and a file's own extension types bring their ancestors from the
extraction (`facts.neurodata_type_ancestors`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

# Child → parent, core NWB types only (stopping below TimeSeries/NWBDataInterface).
PARENT: Mapping[str, str] = {
    "CurrentClampSeries": "PatchClampSeries",
    "IZeroClampSeries": "CurrentClampSeries",
    "CurrentClampStimulusSeries": "PatchClampSeries",
    "VoltageClampSeries": "PatchClampSeries",
    "VoltageClampStimulusSeries": "PatchClampSeries",
    "SpikeEventSeries": "ElectricalSeries",
    "TwoPhotonSeries": "ImageSeries",
    "OnePhotonSeries": "ImageSeries",
    "OpticalSeries": "ImageSeries",
}

ELECTRODES = "multi electrode extracellular electrophysiology recording technique"
SPIKE_SORTING = "spike sorting technique"
BEHAVIORAL = "behavioral technique"
FOURIER = "fourier analysis technique"

# dandi-cli's technique per type (reference/search-nwb-doi.md A.3), as DANDI spells them.
TECHNIQUE: Mapping[str, str] = {
    "ElectricalSeries": ELECTRODES,
    "SpikeEventSeries": SPIKE_SORTING,
    "FeatureExtraction": SPIKE_SORTING,
    "EventWaveform": SPIKE_SORTING,
    "EventDetection": SPIKE_SORTING,
    "Units": SPIKE_SORTING,
    "LFP": "signal filtering technique",
    "ElectrodeGroup": "surgical technique",
    "PatchClampSeries": "patch clamp technique",
    "CurrentClampSeries": "current clamp technique",
    "CurrentClampStimulusSeries": "current clamp technique",
    "VoltageClampSeries": "voltage clamp technique",
    "VoltageClampStimulusSeries": "voltage clamp technique",
    "TwoPhotonSeries": "two-photon microscopy technique",
    "OnePhotonSeries": "one-photon microscopy technique",
    "OpticalChannel": "surgical technique",
    "Position": BEHAVIORAL,
    "SpatialSeries": BEHAVIORAL,
    "BehavioralEpochs": BEHAVIORAL,
    "BehavioralEvents": BEHAVIORAL,
    "BehavioralTimeSeries": BEHAVIORAL,
    "PupilTracking": BEHAVIORAL,
    "EyeTracking": BEHAVIORAL,
    "CompassDirection": BEHAVIORAL,
    "ProcessingModule": "analytical technique",
    "RGBImage": "photographic technique",
    "DecompositionSeries": FOURIER,
    "Spectrum": FOURIER,
}


def lineage(name: str, ancestors: Sequence[str] = ()) -> list[str]:
    """The type, then its ancestors: the file's own (extensions) first, then the core map."""
    chain = [name, *ancestors]
    while (parent := PARENT.get(chain[-1])) is not None and parent not in chain:
        chain.append(parent)
    return chain


def techniques(
    types: Iterable[str], ancestors: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """Sorted, distinct techniques of `types` and of every ancestor of each."""
    found = {
        technique
        for name in types
        for kind in lineage(name, (ancestors or {}).get(name, ()))
        if (technique := TECHNIQUE.get(kind))
    }
    return sorted(found)
