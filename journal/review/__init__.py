"""Clinicians review in session: caseload, client summary, history, the RP plan, reports.

Access is the same everywhere: a clinician sees their own clients, a supervisor everyone's,
and anything else looks exactly like a client that does not exist. Every view of decrypted
data writes an audit event in the same transaction as the view. Charts (matplotlib) and the
PDF (fpdf2) are imported only when one is first drawn.
"""
