"""Cases: the disease knowledge base, the synthesizer, importers of public formats, the loader, clinical text.

May import ``arena.core`` and ``arena.models``; imported by the stages
(``personas``, ``judges``, ``arena.doctors``, ``distill``) and the roof.
``cases.text`` is the one home of clinical text handling.
"""
