/* Refused by tuxnet's loader (as libbpf): a static function as a program. */
#include "tuxnet_bpf.h"

SEC("xdp")
static int xdp_static(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "Dual MIT/GPL";
