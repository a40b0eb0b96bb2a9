"""Command-line tools of the renogram renal-parenchyma project (run as ``python -m scripts.<name>``)."""
