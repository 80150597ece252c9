"""Bulk import (`manage.py import_vectors`): files of upsert records loaded with COPY,
validated exactly as the API validates them, resumable after an interruption."""
