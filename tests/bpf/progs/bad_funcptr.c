/* Refused by tuxnet's loader: a function's address taken (BPF_PSEUDO_FUNC). */
#include "tuxnet_bpf.h"

static __noinline int cb(int x)
{
	return x + 1;
}

SEC("xdp")
int xdp_funcptr(struct xdp_md *ctx)
{
	int (*volatile fp)(int) = cb;

	return (long)fp & 1 ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "Dual MIT/GPL";
