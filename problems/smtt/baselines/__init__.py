"""Reference programs for SMTT, each a standalone candidate (`schedule(p, d)`, numpy and stdlib only).

A package only so that a non-editable install ships the files; the framework reads them as text.
"""
