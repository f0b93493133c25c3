/* Refused by tuxnet's loader: an extern .kconfig variable. */
#include "tuxnet_bpf.h"

extern int CONFIG_HZ __attribute__((section(".kconfig"), weak));

SEC("xdp")
int xdp_kconfig(struct xdp_md *ctx)
{
	return CONFIG_HZ > 100 ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "Dual MIT/GPL";
