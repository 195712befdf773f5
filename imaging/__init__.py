"""anatloc.imaging: what the phantom and the retriever both do with images of real scans.

* :mod:`anatloc.imaging.mip` — PET maximum-intensity projections with lesion outlines, the
  picture of ``anatloc phantom show``, ``anatloc predict --mip`` and ``anatloc demo``;
* :mod:`anatloc.imaging.spacing` — voxel spacings given on the command line (``"6"``,
  ``"2,2,3"``).

Decision: the package sits below both users (imports go ontology ← imaging ← phantom ←
retriever ← cli), so the retriever draws and parses without reaching into the phantom, and
the phantom's own ``show`` uses the same renderer.  It needs only numpy (and matplotlib,
imported where a picture is drawn) and the ontology's typed errors.
"""
