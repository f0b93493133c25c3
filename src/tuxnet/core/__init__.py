"""The device layer: net_device, rings, NAPI, softirq, RSS/RPS/RFS, GRO/GSO, qdiscs."""
