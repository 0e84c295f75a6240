"""GSLTS service layer: what the hub and the backend share, and nothing that belongs to
only one of them. Depends on the libraries (``gslts_kiwoom``, ``gslts_db``), never on a
service; the layering is enforced by import-linter (``make test``)."""
