"""Labs: self-contained experiments in virtual time (``tuxnet lab NAME``)."""
