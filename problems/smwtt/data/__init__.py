"""OR-Library weighted tardiness instances (wt40, wt50, wt100) and their published values.

A package only so that a non-editable install ships the files; see SOURCE.md and README.txt.
"""
