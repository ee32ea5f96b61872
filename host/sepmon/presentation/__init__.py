"""Presentation: the live console view and the reports (terminal text, plots and HTML)."""
