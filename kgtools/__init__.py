"""anatloc.kgtools."""
