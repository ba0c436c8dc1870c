"""Cases: the clinical vocabulary, the built-in case bank and case-file loading."""
