"""Tests of the operations scripts (scripts/pg/) against PostgreSQL clusters the tests start themselves."""
