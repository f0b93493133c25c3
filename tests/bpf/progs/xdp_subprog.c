/* bpf-to-bpf calls: non-inlined helpers in .text shared by two programs. */
#include "tuxnet_bpf.h"

static __noinline int l4_proto(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	return ip->protocol;
}

static __noinline __u32 fold(__u32 a, __u32 b, __u32 c)
{
	__u32 sum = a + b * 3 + c * 7;

	return (sum >> 16) + (sum & 0xffff);
}

__noinline int classify(int proto)
{
	if (proto == IPPROTO_TCP)
		return XDP_TX;
	if (proto == IPPROTO_UDP)
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int xdp_subprog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	int proto = l4_proto(data, data_end);

	if (proto < 0)
		return XDP_ABORTED;
	return classify(proto);
}

SEC("xdp")
int xdp_subprog_meta(struct xdp_md *ctx)
{
	void *data, *data_end, *meta;
	__u32 *m;
	int proto;

	if (bpf_xdp_adjust_meta(ctx, -8))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	meta = (void *)(long)ctx->data_meta;
	m = meta;
	if ((void *)(m + 2) > data)
		return XDP_ABORTED;
	proto = l4_proto(data, data_end);
	m[0] = proto;
	m[1] = fold(proto, data_end - data, 0x1234);
	if (proto == IPPROTO_TCP && bpf_xdp_adjust_tail(ctx, 4))
		return XDP_DROP;
	if (proto == IPPROTO_UDP && bpf_xdp_adjust_tail(ctx, -4))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + 1 > data_end)
		return XDP_ABORTED;
	*(__u8 *)data ^= (__u8)fold(proto, 1, 2);
	return XDP_PASS;
}

char _license[] SEC("license") = "Dual MIT/GPL";
