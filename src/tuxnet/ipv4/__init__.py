"""IPv4: interface addresses (devinet), the FIB (fib, fib_semantics), the route lookups
input and output use (route), neighbours and ARP (neighbour, arp), fragmentation,
reassembly and path MTU (ip_fragment, ip_output_frag, pmtu)."""
