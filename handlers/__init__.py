"""Restate services and objects, one module per example; app.py serves them all."""
