"""Device drivers: simulated NIC, loopback, veth pairs, pcap replay, TAP (live)."""
