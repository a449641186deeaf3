"""Shared platform code that every business module builds on."""
