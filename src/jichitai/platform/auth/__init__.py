"""Staff accounts, roles, purposes (事務) and sign-in credentials (DESIGN §2 ``platform/auth``).

``permissions`` holds the pure rules and the permission catalogue; ``models`` the tables; ``services`` the
use cases; the web side (who is calling, CSRF, refusals) lives in ``platform/web/auth.py``.
"""
