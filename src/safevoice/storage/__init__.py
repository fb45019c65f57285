"""Storage: database engines, sessions and the unit of work (and later the blob store).

Only this package knows which database is in use; everything else gets a ``Session``.
"""
