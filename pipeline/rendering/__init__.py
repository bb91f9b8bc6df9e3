"""``report.md`` and ``report.html`` from ``report.json``: one section model, two small renderers.

Each part of the report is built once as a :class:`~pipeline.rendering.blocks.Section` of typed
blocks (paragraphs, lists, tables, figures) whose text uses two inline marks, ```code``` and
``**bold**``; :mod:`~pipeline.rendering.markdown` and :mod:`~pipeline.rendering.html` render
sections, and :mod:`~pipeline.rendering.pages` puts the sections of each page together:

- :mod:`~pipeline.rendering.overview`: status, error, inputs, fixups, stages, notes;
- :mod:`~pipeline.rendering.validation`: per-pair results, input sets, verdict, divergence trails,
  ONNX Runtime placement (the error plot is :mod:`~pipeline.rendering.plot`);
- the *Translation* and *Training* sections live with their features
  (:mod:`pipeline.translate.report`, :mod:`pipeline.training.report`).
"""
