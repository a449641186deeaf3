"""The one Alembic history of the project (run through ``jichitai db upgrade``)."""
