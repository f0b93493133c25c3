/* Count packets per IP protocol in a per-CPU array (BTF-defined .maps), a length
 * histogram in a legacy "maps" section array, totals in .bss/.data globals, and a
 * drop rule configured through .rodata. */
#include "tuxnet_bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} proto_count SEC(".maps");

struct bpf_map_def SEC("maps") len_hist = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 16,
};

const volatile __u32 cfg_drop_proto = 132; /* SCTP */
__u64 total_pkts;                          /* .bss */
__u64 total_bytes = 1000;                  /* .data */

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 key = 0, bucket;
	__u64 *cnt;

	__sync_fetch_and_add(&total_pkts, 1);
	__sync_fetch_and_add(&total_bytes, data_end - data);
	bucket = (__u32)(data_end - data) / 128;
	if (bucket > 15)
		bucket = 15;
	cnt = bpf_map_lookup_elem(&len_hist, &bucket);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	key = ip->protocol;
	cnt = bpf_map_lookup_elem(&proto_count, &key);
	if (cnt)
		*cnt += 1;
	if (ip->protocol == cfg_drop_proto)
		return XDP_DROP;
	return XDP_PASS;
}

char _license[] SEC("license") = "Dual MIT/GPL";
