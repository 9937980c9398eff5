"""Reference rules for online bin packing, each a standalone `priority(item, bins)` (numpy only).

A package only so that a non-editable install ships the files; the framework reads them as text.
"""
