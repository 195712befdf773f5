"""anatloc.retriever: lesion location by image-to-text retrieval (see ``docs/retriever.md``).

Modules (import what you need; nothing heavy is imported here):

``config``      presets and configurations (``get_preset``, ``list_presets``)
``nifti``       NIfTI → world-space ``Volume`` with checks
``table``       the lesion table → ``LesionRecord``
``patches``     world-space patch sampling, cached blocks, augmentation, channels
``data``        ``Sample``, the ``SampleSource`` protocol, ``TableSource``
``text``        the cached text bank of the ontology's descriptions
``model``       image encoders, fusion, heads, text adapters, temperature
``loss``        the contrastive loss over the whole vocabulary (pure function)
``negatives``   the walker's bands for the loss
``hierarchy``   coarse-to-fine retrieval and abstention
``checkpoint``  saving, loading, ontology-change detection
``sources``     the training and validation sources from ``anatloc train``'s inputs
``train``       the training loop (``anatloc train``): ``train()``, a ``Trainer``
``infer``       ``Localizer.from_checkpoint(...).predict(...)``
``evaluate``    metrics and the confusion picture (``anatloc evaluate``)
``predict``     the main job: a case's images and lesions → predictions, facts, MIP
                (``anatloc predict``)
``report``      report sentences from the ontology; Markdown and HTML reports
``demo``        ``anatloc demo``: a phantom case end to end
``baseline``    the segmentation baseline (``anatloc baseline segmentation``); its tables
                are in ``data/`` (TotalSegmentator class → ontology term)
"""
