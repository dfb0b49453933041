"""Reports: PDF evidence packs, charts, exports and the report API.

Everything here reads a :class:`compliance.reports.data.ReportData`, the one
explicit interface between the compliance engine's stored results and the
reports, so a pack, a page, an export and the API always show the same
numbers.
"""
