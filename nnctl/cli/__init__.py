"""The command line: one module per command, assembled in app.py (the error boundary)."""
