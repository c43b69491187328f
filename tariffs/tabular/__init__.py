"""Tabular tariff files (CSV, XLSX), by concern.

* :mod:`tariffs.tabular.encoding` -- sniffing: UTF-8 checks, encoding detection,
  what line numbering needs;
* :mod:`tariffs.tabular.reader` -- the chunked table reader (``TableReader``,
  ``read_table``);
* :mod:`tariffs.tabular.header` -- header normalization and column checks;
* :mod:`tariffs.tabular.fields` -- field converters (``money``, ``percent``...) and
  their application to columns (``ColumnConverter``, ``RowErrors``);
* :mod:`tariffs.tabular.bulk` -- the garbage-collector switch of bulk parsing.
"""
