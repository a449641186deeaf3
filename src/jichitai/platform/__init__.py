"""The platform core: tenancy, storage, errors, web plumbing. It never imports a business module."""
