"""anatloc.phantom."""
