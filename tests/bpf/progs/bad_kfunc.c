/* Refused by tuxnet's loader: a call to a kernel function (kfunc extern). */
#include "tuxnet_bpf.h"

extern int bpf_tuxnet_kfunc(int x) __attribute__((section(".ksyms")));

SEC("xdp")
int xdp_kfunc(struct xdp_md *ctx)
{
	return bpf_tuxnet_kfunc(2);
}

char _license[] SEC("license") = "Dual MIT/GPL";
