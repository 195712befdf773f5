"""anatloc.retriever."""
