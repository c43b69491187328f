"""Renderings of documents: the Good Faith Estimate as HTML, PDF and FHIR, all from
one view model (``costsvc.domain.gfe.GfeView``), and the Advanced EOB as FHIR."""
