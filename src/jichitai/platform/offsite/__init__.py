"""Off-site copy (副本) of each municipality: journal, encrypted chunks, custodians, restore (DESIGN §5).

The platform package knows no module: it journals every table that carries ``lg_code`` generically.
See docs/adr/0010-offsite-journal.md.
"""
