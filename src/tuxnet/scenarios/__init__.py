"""Built-in simulated scenarios that ``tuxnet sim`` runs."""
