/* Refused by tuxnet's loader: a CO-RE field access (BTF.ext core_relo). */
#include "tuxnet_bpf.h"

struct task_like {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

SEC("xdp")
int xdp_core(struct xdp_md *ctx)
{
	struct task_like *t = (void *)(long)ctx->data;

	return __builtin_preserve_access_index(t->tgid) ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "Dual MIT/GPL";
