"""Target extensions; importing this package registers them all (the standard targets
ACCEPT, DROP, RETURN, QUEUE and jumps are handled by the rule engine itself)."""

from tuxnet.netfilter.targets import ct, log, mark, nat, reject  # noqa: F401 - register
