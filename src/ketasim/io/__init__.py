"""File input and output: NONMEM CSV (:mod:`.nonmem_csv`) and the one safe writer
(:mod:`.atomic`)."""
