/* One program per SEC() convention the loader maps to a program type. */
#include "tuxnet_bpf.h"

SEC("xdp.frags")
int xdp_frags_len(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return data_end - data > 100 ? XDP_DROP : XDP_PASS;
}

SEC("xdp/devmap")
int xdp_on_devmap(struct xdp_md *ctx)
{
	return ctx->egress_ifindex == 1 ? XDP_DROP : XDP_PASS;
}

SEC("xdp/cpumap")
int xdp_on_cpumap(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int tc_ok(void *skb)
{
	return 0; /* TC_ACT_OK */
}

SEC("classifier/legacy")
int cls_ok(void *skb)
{
	return 0;
}

SEC("socket")
int sock_keep(void *skb)
{
	return -1; /* keep the whole packet */
}

char _license[] SEC("license") = "Dual MIT/GPL";
