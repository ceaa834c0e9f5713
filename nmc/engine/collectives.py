"""Collective communication costs (docs/training.md, "Collectives").

Every function returns seconds for one collective over a group of `p` devices. `nbytes` is the
full buffer per device: the vector being all-reduced, the input of a reduce-scatter, the output
of an all-gather, everything one device sends in an all-to-all (its own share included).

Placement: devices are numbered tensor-parallel first, so a group whose members are `stride`
ranks apart has g = clamp(devices_per_node / stride, 1, p) members on each node and n = p / g
nodes. Members on one node talk over the scale-up link (link_bw, link_latency), members on
different nodes over the scale-out network (net_bw, net_latency; bandwidth per device, one
direction). Both bandwidths are derated by eff_link.

Algorithms: ring (one ring through all p members; when it leaves the node it runs at the
network's speed) and hierarchical (inside the node, across nodes on 1/g of the data, inside the
node again). ALGO_BEST takes the faster of the two, as NCCL's tuner does."""
import math

from numba import njit

from ..arch.schema import INDEX as _AI

A_LINK_BW = _AI["link_bw"]
A_LINK_LAT = _AI["link_latency"]
A_DPN = _AI["devices_per_node"]
A_NET_BW = _AI["net_bw"]
A_NET_LAT = _AI["net_latency"]
A_EFF_LINK = _AI["eff_link"]

# floats, not ints: numba types an int constant passed to a jitted function as a literal and
# compiles the callee once per value (5 kinds x 3 algorithms: ~0.5 s of cold start); a float
# constant is typed float64, one compiled body
COLL_ALLREDUCE, COLL_REDUCE_SCATTER, COLL_ALLGATHER, COLL_ALLTOALL, COLL_P2P = (
    0.0, 1.0, 2.0, 3.0, 4.0)
COLL_NAMES = ("all-reduce", "reduce-scatter", "all-gather", "all-to-all", "p2p")
ALGO_RING, ALGO_HIER, ALGO_BEST = 0.0, 1.0, 2.0
ALGO_NAMES = ("ring", "hierarchical", "best")


@njit(cache=True)
def ring_time(kind, nbytes, p, bw, lat):
    """One ring (or direct exchange) over p members on links of bandwidth bw (B/s, already
    derated) and latency lat per step.

    all-reduce: 2(p-1)/p * S / bw + 2(p-1) lat;  reduce-scatter, all-gather, all-to-all:
    (p-1)/p * S / bw + (p-1) lat;  p2p: S / bw + lat."""
    if kind == COLL_P2P:
        if nbytes <= 0.0:
            return 0.0
        return nbytes / bw + lat if bw > 0.0 else math.inf
    if p <= 1.0 or nbytes <= 0.0:
        return 0.0
    if bw <= 0.0:
        return math.inf
    steps = p - 1.0
    vol = (p - 1.0) / p * nbytes
    if kind == COLL_ALLREDUCE:
        steps *= 2.0
        vol *= 2.0
    return vol / bw + steps * lat


@njit(cache=True)
def members_per_node(p, stride, dpn):
    """Members of a group (p members, `stride` ranks apart) that share one node."""
    g = math.floor(dpn / max(stride, 1.0))
    return min(max(g, 1.0), p)


@njit(cache=True)
def group_time(kind, nbytes, p, stride, a, algo):
    """Seconds for one collective of `kind` over p devices placed `stride` ranks apart."""
    if p <= 1.0 or nbytes <= 0.0:
        return 0.0
    eff = a[A_EFF_LINK]
    bl = a[A_LINK_BW] * eff
    ll = a[A_LINK_LAT]
    bn = a[A_NET_BW] * eff
    ln = a[A_NET_LAT]
    g = members_per_node(p, stride, a[A_DPN])
    n = float(math.ceil(p / g))           # float: one compiled ring_time
    if n <= 1.0:                                    # the whole group sits in one node
        return ring_time(kind, nbytes, p, bl, ll)
    if kind == COLL_ALLTOALL:
        # direct exchange: (g-1)/p of the buffer stays in the node, (p-g)/p leaves it;
        # the two parts move at the same time
        t_in = (g - 1.0) / p * nbytes / bl if g > 1.0 else 0.0
        t_out = (p - g) / p * nbytes / bn if bn > 0.0 else math.inf
        return max(t_in, t_out) + (g - 1.0) * ll + (n - 1.0) * ln
    # flat ring leaving the node: every step runs at the slower link
    bw_ring = min(bl, bn) if g > 1.0 else bn
    t_ring = ring_time(kind, nbytes, p, bw_ring, max(ll, ln))
    if algo == ALGO_RING or g <= 1.0:
        return t_ring
    # hierarchical: intra-node phase(s) on S, inter-node phase on S/g
    if kind == COLL_ALLREDUCE:
        t_h = (2.0 * ring_time(COLL_REDUCE_SCATTER, nbytes, g, bl, ll)
               + ring_time(COLL_ALLREDUCE, nbytes / g, n, bn, ln))
    else:
        t_h = (ring_time(kind, nbytes, g, bl, ll)
               + ring_time(kind, nbytes / g, n, bn, ln))
    if algo == ALGO_HIER:
        return t_h
    return min(t_ring, t_h)


@njit(cache=True)
def one_shot_allreduce_time(nbytes, p, a):
    """The custom all-reduce of inference runtimes for small buffers inside one node (vLLM,
    TensorRT-LLM, SGLang "one-shot"): every device reads the p-1 other buffers over its links in
    one exchange and sums locally: (p-1) S / bw + 2 latency steps (signal, then read)."""
    if p <= 1.0 or nbytes <= 0.0:
        return 0.0
    bl = a[A_LINK_BW] * a[A_EFF_LINK]
    if bl <= 0.0:
        return math.inf
    return (p - 1.0) * nbytes / bl + 2.0 * a[A_LINK_LAT]


@njit(cache=True)
def tp_allreduce_time(nbytes, p, a):
    """The tensor-parallel all-reduce of inference: the faster of NCCL's ring or hierarchical
    algorithm (group_time, ALGO_BEST; across nodes when p > devices_per_node) and, inside one
    node, the one-shot all-reduce (docs/model.md, "Tensor parallelism")."""
    t = group_time(COLL_ALLREDUCE, nbytes, p, 1.0, a, ALGO_BEST)
    if p <= a[A_DPN]:
        t = min(t, one_shot_allreduce_time(nbytes, p, a))
    return t


@njit(cache=True)
def coll_time(code, nbytes, p, stride, a):
    """Time of the collective of a K_COMM operator row: the tensor-parallel all-reduce (code
    COLL_ALLREDUCE, members adjacent) or the expert-parallel all-to-all (COLL_ALLTOALL over p
    members `stride` ranks apart)."""
    if code == COLL_ALLTOALL:
        return group_time(COLL_ALLTOALL, nbytes, p, stride, a, ALGO_BEST)
    return tp_allreduce_time(nbytes, p, a)


@njit(cache=True)
def p2p_time(nbytes, stride, a):
    """Point-to-point send between neighbours `stride` ranks apart (pipeline stages)."""
    if nbytes <= 0.0:
        return 0.0
    eff = a[A_EFF_LINK]
    if stride < a[A_DPN]:
        return ring_time(COLL_P2P, nbytes, 2.0, a[A_LINK_BW] * eff, a[A_LINK_LAT])
    return ring_time(COLL_P2P, nbytes, 2.0, a[A_NET_BW] * eff, a[A_NET_LAT])
