"""Development and benchmark data: synthetic populations for demos, tests and bench/, never production."""
