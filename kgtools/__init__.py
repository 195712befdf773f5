"""anatloc.kgtools: the knowledge graph of the ontology and hierarchy-aware negatives.

* :mod:`anatloc.kgtools.graph` — :class:`~anatloc.kgtools.graph.KnowledgeGraph`: the ontology
  as a typed networkx graph, tree distances, paths, ambiguous sets, GraphML/JSON export;
* :mod:`anatloc.kgtools.walker` — :class:`~anatloc.kgtools.walker.Walker`: excluded /
  semi-hard / easy bands and batched negatives for contrastive training;
* :mod:`anatloc.kgtools.draw` — a PNG of a term's subtree or neighbourhood.

Submodules are imported explicitly; importing this package imports nothing heavy.
"""
