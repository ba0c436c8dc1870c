"""The core: records that cross a stage, the store, its tables and migrations, redaction, templates, reply parsing.

Imports no other package of the project.
"""
