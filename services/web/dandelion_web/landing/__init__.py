"""The landing page of a dandiset version, `/dandiset/{id}/{version}`: what people read
(`page.py`, `fields.py`), what they cite (`citation.py`) and what machines harvest
(`jsonld.py`, `meta.py`), all from the API's answers for that version."""
