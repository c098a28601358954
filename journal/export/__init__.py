"""Data out on the program's terms: the research export and its codebook, the program's
figures, FHIR R4 resources, a client's copy of their own record.

`files.py` writes an export's directory whole or not at all; `research.py` (tables and
who may have them), `codebook.py` (written from the questionnaire and rules data),
`figures.py` (the program's figures, grouped queries), `fhir.py` (FHIR R4 NDJSON),
`copy.py` (a client's copy, `/mydata`) and `document.py` (its JSON and PDF)."""
