"""Reference programs for SMWTT, each a standalone candidate (`schedule(p, d, w)`, numpy and stdlib only).

A package only so that a non-editable install ships the files; the framework reads them as text. Names
match the SMTT baselines they generalise (spt is WSPT, mdd is WMDD) so a benchmark row covers both.
"""
