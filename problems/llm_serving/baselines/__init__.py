"""Reference programs scored like candidates (a package only so that they ship in the wheel)."""
