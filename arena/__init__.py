"""medarena's floor and roof (see ARCHITECTURE.md).

Sub-packages, bottom to top: ``arena.core`` (records, store, tables,
migrations, templating, reply parsing; imports no other package of the
project), ``arena.models`` (model names, providers, call policy; imports only
the core) and ``arena.doctors`` (doctor policies; a stage beside ``personas``
and ``judges``). The modules directly in ``arena`` are the roof: the
consultation engine, the Ray runner, the stages pipeline, the display and the
command line; they may import every package of the project, and nothing
below imports them.
"""
