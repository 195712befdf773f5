"""anatloc.cli."""
