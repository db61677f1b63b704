"""Versions of a dandiset: the editable draft and immutable published versions."""
