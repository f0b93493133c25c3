"""IPv4: interface addresses (devinet), the FIB (fib, fib_semantics) and the route
lookups input and output use (route)."""
