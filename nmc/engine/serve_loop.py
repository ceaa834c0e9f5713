"""The serving simulator's event loop (numba, flat arrays: no object per request or iteration).

simulate(m, s, a, cfg, arr, prompt, output, kv0, t_first, t_sched, t_done, n_pre, stats,
series) runs `cfg[SV_ENGINES]` identical engines (replicas, or the virtual engines of a
pipeline-parallel replica) behind one load balancer, iteration by iteration, and prices every
iteration with serve.price_batch (one pass through the cost kernel).

Requests are indices 0..n-1 into the arrays arr (arrival time, s), prompt and output (tokens)
and kv0 (tokens of KV cache a request arrives with: 0, or its prompt when a prefill pool made
it; such a request has its first token already). Open loop: arr is given. Closed loop
(cfg[SV_CONCURRENCY] = C > 0): the caller sets arr[0:C]; each completion releases the next
request at completion + think time, so request j >= C arrives when an earlier one finishes.

Per engine (replica level, in the names of Vidur's replica scheduler): a FIFO queue (a linked
list through `nxt`), a running list in admission order, a pool of KV blocks. Per iteration the
scheduler picks the batch:
  static      when no batch runs, admit up to max_batch requests (prompts within max_tokens)
              that fit with their full length reserved (prompt + output); prefill them in one
              pass, then decode the whole batch (finished sequences stay in it as padding)
              until every one is done.
  continuous  admit queued requests FIFO while batch slots, the token budget (max_tokens) and
              KV blocks for their prompts allow; if any were admitted the iteration is their
              prefill alone (running decodes wait), otherwise one decode step of every running
              sequence (vLLM's default scheduler without chunking).
  chunked     every running decode adds one token; the rest of the token budget goes to prompt
              chunks, oldest first (partial prefills, then new admissions): one mixed pass.
KV blocks: a sequence holds ceil(cached / block) blocks. A decode that needs a block when none
is free preempts the most recently admitted sequence (recompute: its cache is dropped and it
re-queues at the front to prefill prompt + generated tokens again; swap: its cache moves to
host memory at SV_SWAP_S seconds per token and comes back the same way). With admission
"reserve" (cfg[SV_ADMIT]) a continuous or chunked scheduler admits a request only when the
blocks of its whole length (prompt + output) are free and takes them at once, so decodes
never run out (TensorRT-LLM's GUARANTEED_NO_EVICT capacity scheduler).

Global level: each arrival goes to an engine by round-robin, least outstanding requests, or a
seeded random pick. The loop always advances the engine with work whose clock is earliest,
after dispatching every arrival up to that time; an idle engine waits for its next arrival.

Outputs: per request the time of its first token, of its first scheduling and of its last
token, and its preemptions; stats[SS_*]; series[k, TS_*] a decimated time series (every
stride-th iteration; when full, every second sample is dropped and the stride doubles)."""
import math

import numpy as np
from numba import njit

from .layout import (
    ADMIT_RESERVE, AG_LOGITS, AG_PAIRS, AG_SEQS, AG_SPAN, AG_TOKENS, LB_LEAST, LB_RANDOM, N_ACC,
    N_AG, N_OF,
    N_PREP, N_PX, N_SLOTS, N_TERMS, PRE_SWAP, SCHED_CHUNKED, SCHED_CONTINUOUS, SCHED_STATIC,
    SS_BUSY, SS_DECODE_TOKENS, SS_DONE, SS_END, SS_ENERGY, SS_ITERS, SS_KV_PEAK, SS_KV_TIME,
    SS_PREEMPT, SS_PREFILL_TOKENS, SS_RUN_TIME, SS_SEQS, SS_SERIES_N, SS_SERIES_STRIDE,
    SS_SWAP_S, SS_TOKENS, SV_BLOCK, SV_BLOCKS, SV_CONCURRENCY, SV_ENGINES, SV_LB, SV_MAX_BATCH,
    SV_MAX_TOKENS, SV_P2P_E, SV_P2P_LAT, SV_P2P_S, SV_PP, SV_PREEMPT, SV_SCHED, SV_SEED,
    SV_ADMIT, SV_SWAP_S, SV_THINK, TS_BATCH, TS_KV, TS_QUEUE, TS_TIME, TS_TOKENS,
)
from .serve import host_only, price_batch, price_decode


@njit(cache=True, inline="always")
def _blocks(tokens, bs):
    return (tokens + bs - 1) // bs


@njit(cache=True, inline="always")
def _pop(e, qhead, qtail, qlen, nxt):
    r = qhead[e]
    qhead[e] = nxt[r]
    if qhead[e] < 0:
        qtail[e] = -1
    qlen[e] -= 1
    return r


@njit(cache=True, inline="always")
def _push_front(e, r, qhead, qtail, qlen, nxt):
    nxt[r] = qhead[e]
    qhead[e] = r
    if qtail[e] < 0:
        qtail[e] = r
    qlen[e] += 1


@njit(cache=True, nogil=True)       # nogil: a capacity search runs layouts on threads
def simulate(m, s, a, cfg, arr, prompt, output, kv0, t_first, t_sched, t_done, n_pre, stats,
             series):
    """Run every request to completion (module doc). Returns 0, or -1 if the requests left can
    never be scheduled (one does not fit an engine's KV blocks; the caller checks this first)."""
    n = arr.shape[0]
    E = int(cfg[SV_ENGINES])
    MB = int(cfg[SV_MAX_BATCH])
    MT = int(cfg[SV_MAX_TOKENS])
    bs = int(cfg[SV_BLOCK])
    nblk = int(cfg[SV_BLOCKS])
    sched = int(cfg[SV_SCHED])
    lb = int(cfg[SV_LB])
    swap = int(cfg[SV_PREEMPT]) == PRE_SWAP
    reserve = int(cfg[SV_ADMIT]) == ADMIT_RESERVE
    swap_s = cfg[SV_SWAP_S]
    conc = int(cfg[SV_CONCURRENCY])
    think = cfg[SV_THINK]
    hops = cfg[SV_PP] - 1.0
    p2p_s = cfg[SV_P2P_S]
    p2p_lat = cfg[SV_P2P_LAT]
    p2p_e = cfg[SV_P2P_E]
    S = series.shape[0]
    if lb == LB_RANDOM:
        np.random.seed(int(cfg[SV_SEED]))

    # pricing scratch
    ops = np.zeros((N_SLOTS, N_OF))
    terms = np.zeros((N_SLOTS, N_TERMS))
    acc = np.zeros(N_ACC)
    prep = np.zeros((N_PREP, N_SLOTS))
    px = np.zeros(N_PX)
    agg = np.zeros(N_AG)
    att = np.zeros((N_SLOTS, N_OF))         # the attention rows of a pure decode pass
    split = host_only(a)                    # price_decode's fast path applies
    memo = np.full((MB + 1, 2), -1.0)       # token-wise rows of a decode pass of n sequences

    # per request
    gen = np.zeros(n, dtype=np.int64)        # tokens generated
    cached = np.zeros(n, dtype=np.int64)     # tokens whose KV is held (on the device or swapped)
    target = np.zeros(n, dtype=np.int64)     # tokens to prefill before decoding
    blocks = np.zeros(n, dtype=np.int64)     # KV blocks held on the device
    swapped = np.zeros(n, dtype=np.bool_)
    chunk = np.zeros(n, dtype=np.int64)      # tokens the request adds in the current pass
    nxt = np.full(n, -1, dtype=np.int64)
    for r in range(n):
        target[r] = prompt[r]
        if kv0[r] > 0:                      # arrives with its prompt's KV and first token
            cached[r] = kv0[r]
            gen[r] = 1
        else:
            t_first[r] = math.nan
        t_sched[r] = math.nan
        t_done[r] = math.nan
        n_pre[r] = 0

    # per engine
    clock = np.zeros(E)
    qhead = np.full(E, -1, dtype=np.int64)
    qtail = np.full(E, -1, dtype=np.int64)
    qlen = np.zeros(E, dtype=np.int64)
    run = np.zeros((E, MB), dtype=np.int64)
    nrun = np.zeros(E, dtype=np.int64)
    free = np.full(E, nblk, dtype=np.int64)
    in_batch = np.zeros(E, dtype=np.bool_)   # static: a batch is running
    outstanding = np.zeros(E, dtype=np.int64)

    for k in range(stats.shape[0]):
        stats[k] = 0.0
    tot_run = 0
    tot_queue = 0
    tot_used = 0
    stride = 1
    n_ser = 0
    iters = 0
    released = n if conc <= 0 else min(conc, n)
    next_arr = 0
    done = 0
    rr = 0
    t_end = 0.0
    t_disp = 0.0                            # time of the latest dispatch
    stuck = 0

    while done < n:
        # the engine with work whose clock is earliest
        e = -1
        t_min = math.inf
        for k in range(E):
            if (nrun[k] > 0 or qlen[k] > 0) and clock[k] < t_min:
                t_min = clock[k]
                e = k
        if next_arr < released and arr[next_arr] <= t_min:
            # dispatch one arrival (global load balancer)
            r = next_arr
            next_arr += 1
            if lb == LB_LEAST:
                g = 0
                for k in range(1, E):
                    if outstanding[k] < outstanding[g]:
                        g = k
            elif lb == LB_RANDOM:
                g = np.random.randint(0, E)
            else:
                g = rr
                rr = (rr + 1) % E
            # closed loop on several engines: a completion processed later may release a
            # request that arrives earlier than one already dispatched; it is dispatched now
            t_disp = max(t_disp, arr[r])
            if nrun[g] == 0 and qlen[g] == 0:
                clock[g] = max(clock[g], t_disp)
            if qtail[g] < 0:
                qhead[g] = r
            else:
                nxt[qtail[g]] = r
            qtail[g] = r
            nxt[r] = -1
            qlen[g] += 1
            tot_queue += 1
            outstanding[g] += 1
            continue
        if e < 0 or stuck > n + 10:
            return -1                       # nothing can run and nothing arrives

        t0 = clock[e]
        extra = 0.0                         # swap time charged to this iteration

        # ---- replica scheduler: choose the pass ----------------------------------------------
        pure = False
        nd = 0
        csum = 0
        if sched == SCHED_STATIC:
            if not in_batch[e]:
                budget = MT
                while qlen[e] > 0 and nrun[e] < MB:
                    r = qhead[e]
                    need = _blocks(prompt[r] + output[r], bs)    # full length reserved
                    if need > free[e] or (nrun[e] > 0 and prompt[r] > budget):
                        break
                    budget -= prompt[r]
                    _pop(e, qhead, qtail, qlen, nxt)
                    tot_queue -= 1
                    blocks[r] = need
                    free[e] -= need
                    tot_used += need
                    run[e, nrun[e]] = r
                    nrun[e] += 1
                    tot_run += 1
                    t_sched[r] = t0
                    chunk[r] = target[r] - cached[r]
                if nrun[e] == 0:
                    return -1
                in_batch[e] = True
            else:
                for j in range(nrun[e]):
                    chunk[run[e, j]] = 1
        else:
            budget = MT
            prefills = 0
            pure = True                     # a pure decode pass (aggregates from sums)
            nd = 0
            csum = 0
            if sched == SCHED_CHUNKED:
                # running decodes first (one token each), preempting the newest sequences
                # while their KV growth does not fit; then running partial prefills
                nd, csum = _decode_growth(e, run, nrun, cached, target, blocks, free, chunk,
                                          bs)
                while free[e] < 0 and nrun[e] > 0:
                    extra += _preempt(e, run, nrun, qhead, qtail, qlen, nxt, cached, target,
                                      prompt, gen, blocks, free, chunk, swapped, n_pre, swap,
                                      swap_s)
                    stats[SS_PREEMPT] += 1.0
                    pure = False
                for j in range(nrun[e]):
                    r = run[e, j]
                    if chunk[r] == 1 and cached[r] >= target[r]:
                        budget -= 1
                for j in range(nrun[e]):
                    r = run[e, j]
                    if cached[r] < target[r] and budget > 0:
                        take = min(target[r] - cached[r], budget,
                                   (free[e] + blocks[r]) * bs - cached[r])
                        if take > 0:
                            need = max(_blocks(cached[r] + take, bs) - blocks[r], 0)
                            blocks[r] += need
                            free[e] -= need
                            chunk[r] = take
                            budget -= take
                            prefills += 1
            # admissions from the queue, first come first served
            while qlen[e] > 0 and nrun[e] < MB:
                r = qhead[e]
                if cached[r] >= target[r]:          # holds its KV (swapped, or transferred in)
                    need = _blocks(cached[r], bs)
                    if reserve:
                        need = _blocks(prompt[r] + output[r], bs)
                    if need > free[e]:
                        break
                    take = 0
                else:
                    take = target[r] - cached[r]
                    if sched == SCHED_CHUNKED:
                        take = min(take, budget, free[e] * bs)
                        if take <= 0:
                            break
                    elif prefills > 0 and take > budget:
                        break                       # the first prefill may exceed max_tokens
                    need = _blocks(cached[r] + take, bs)
                    if reserve:                     # the whole length, at once
                        need = max(need, _blocks(prompt[r] + output[r], bs))
                    if need > free[e]:
                        break
                    budget -= take
                    prefills += 1
                _pop(e, qhead, qtail, qlen, nxt)
                blocks[r] = need
                free[e] -= need
                if swapped[r]:
                    extra += cached[r] * swap_s
                    swapped[r] = False
                run[e, nrun[e]] = r
                nrun[e] += 1
                chunk[r] = take
                if math.isnan(t_sched[r]):
                    t_sched[r] = t0
            if sched == SCHED_CONTINUOUS and prefills == 0:
                # no prefill admitted: one decode step of every running sequence
                nd, csum = _decode_growth(e, run, nrun, cached, target, blocks, free, chunk,
                                          bs)
                while free[e] < 0 and nrun[e] > 0:
                    extra += _preempt(e, run, nrun, qhead, qtail, qlen, nxt, cached, target,
                                      prompt, gen, blocks, free, chunk, swapped, n_pre, swap,
                                      swap_s)
                    stats[SS_PREEMPT] += 1.0
                    pure = False
            pure = pure and prefills == 0 and nd > 0
            tot_run, tot_queue, tot_used = _totals(nrun, qlen, free, nblk)

        # ---- aggregates of the pass ------------------------------------------------------
        if pure:                            # every sequence adds one token: q = 1, P = c + 1
            n_seq = nd
            tokens = nd
            logits = nd
            span = float(csum + nd)
            pairs = span
        else:
            n_seq = 0
            tokens = 0
            logits = 0
            span = 0.0
            pairs = 0.0
            for j in range(nrun[e]):
                r = run[e, j]
                q = chunk[r]
                if q == 0:
                    continue
                c = cached[r]
                n_seq += 1
                tokens += q
                span += c + q
                pairs += q * c + q * (q + 1.0) * 0.5
                if c + q >= target[r]:
                    logits += 1
        if n_seq == 0:
            stuck += 1
            if nrun[e] > 0 and stuck > 1:
                # nothing fits (partial prefills waiting for blocks): preempt the newest
                _preempt(e, run, nrun, qhead, qtail, qlen, nxt, cached, target, prompt, gen,
                         blocks, free, chunk, swapped, n_pre, False, swap_s)
                tot_run, tot_queue, tot_used = _totals(nrun, qlen, free, nblk)
                stats[SS_PREEMPT] += 1.0
            continue
        stuck = 0

        agg[AG_TOKENS] = tokens
        agg[AG_SEQS] = n_seq
        agg[AG_LOGITS] = logits
        agg[AG_SPAN] = span
        agg[AG_PAIRS] = pairs
        if pure and split:
            dt, energy = price_decode(m, s, a, nd, span, ops, att, terms, acc, prep, px, memo,
                                      agg)
        else:
            dt, energy = price_batch(m, s, a, agg, ops, terms, acc, prep, px)
        if hops > 0:
            dt += hops * (tokens * p2p_s + p2p_lat)
            energy += hops * tokens * p2p_e
        dt += extra
        t1 = t0 + dt
        clock[e] = t1

        # counters and the time series (fleet totals at the start of the iteration)
        used = nblk - free[e]
        stats[SS_ITERS] += 1.0
        stats[SS_BUSY] += dt
        stats[SS_SEQS] += n_seq
        stats[SS_TOKENS] += tokens
        stats[SS_ENERGY] += energy
        stats[SS_RUN_TIME] += nrun[e] * dt
        stats[SS_KV_TIME] += used * dt
        stats[SS_SWAP_S] += extra
        if used > stats[SS_KV_PEAK]:
            stats[SS_KV_PEAK] = used
        if iters % stride == 0:
            if n_ser == S:
                for k in range(S // 2):
                    for f in range(series.shape[1]):
                        series[k, f] = series[2 * k, f]
                n_ser = S // 2
                stride *= 2
            if iters % stride == 0:
                series[n_ser, TS_TIME] = t0
                series[n_ser, TS_BATCH] = tot_run
                series[n_ser, TS_QUEUE] = tot_queue
                series[n_ser, TS_KV] = tot_used / (nblk * E)
                series[n_ser, TS_TOKENS] = tokens
                n_ser += 1
        iters += 1

        # ---- apply the pass: tokens out, completions ---------------------------------------
        keep = 0
        batch_left = False
        if pure:
            # every running sequence decoded one token (those admitted with their KV too)
            stats[SS_DECODE_TOKENS] += nd
            for j in range(nrun[e]):
                r = run[e, j]
                if chunk[r] == 0:           # not in this pass
                    run[e, keep] = r
                    keep += 1
                    continue
                chunk[r] = 0
                cached[r] += 1
                g = gen[r] + 1
                gen[r] = g
                if g < output[r]:
                    run[e, keep] = r
                    keep += 1
                    continue
                t_done[r] = t1
                done += 1
                outstanding[e] -= 1
                if released < n:
                    arr[released] = t1 + think
                    released += 1
                free[e] += blocks[r]
                tot_used -= blocks[r]
                blocks[r] = 0
                tot_run -= 1
            if t1 > t_end and keep < nrun[e]:
                t_end = t1
            nrun[e] = keep
            continue
        for j in range(nrun[e]):
            r = run[e, j]
            q = chunk[r]
            chunk[r] = 0
            if q > 0:
                if sched == SCHED_STATIC and gen[r] >= output[r]:
                    cached[r] += 1                  # padding row of a static batch
                elif cached[r] >= target[r]:
                    stats[SS_DECODE_TOKENS] += 1.0
                    cached[r] += 1
                    gen[r] += 1
                else:
                    stats[SS_PREFILL_TOKENS] += q
                    cached[r] += q
                    if cached[r] >= target[r]:
                        gen[r] += 1
                        if math.isnan(t_first[r]):
                            t_first[r] = t1
                if gen[r] >= output[r] and math.isnan(t_done[r]):
                    t_done[r] = t1
                    done += 1
                    outstanding[e] -= 1
                    if t1 > t_end:
                        t_end = t1
                    if released < n:
                        arr[released] = t1 + think
                        released += 1
            if gen[r] >= output[r] and sched != SCHED_STATIC:
                free[e] += blocks[r]
                tot_used -= blocks[r]
                blocks[r] = 0
                tot_run -= 1
                continue
            if gen[r] < output[r]:
                batch_left = True
            run[e, keep] = r
            keep += 1
        nrun[e] = keep
        if sched == SCHED_STATIC and not batch_left:
            for j in range(nrun[e]):
                r = run[e, j]
                free[e] += blocks[r]
                tot_used -= blocks[r]
                blocks[r] = 0
            tot_run -= nrun[e]
            nrun[e] = 0
            in_batch[e] = False

    stats[SS_END] = t_end
    stats[SS_DONE] = done
    stats[SS_SERIES_N] = n_ser
    stats[SS_SERIES_STRIDE] = stride
    return 0


@njit(cache=True, inline="always")
def _totals(nrun, qlen, free, nblk):
    """Fleet totals: running sequences, queued requests, used KV blocks."""
    tr = 0
    tq = 0
    tu = 0
    for k in range(free.shape[0]):
        tr += nrun[k]
        tq += qlen[k]
        tu += nblk - free[k]
    return tr, tq, tu


@njit(cache=True, inline="always")
def _decode_growth(e, run, nrun, cached, target, blocks, free, chunk, bs):
    """Every running sequence that has its prompt in the cache decodes one token: chunk = 1 and
    the block its new KV entry needs is taken (free may go negative: the caller preempts). A
    running sequence holds ceil(cached / bs) blocks, so it needs one more when cached is a
    multiple of bs (unless it reserved its whole length at admission). Returns (decodes, sum
    of their cached tokens)."""
    nd = 0
    csum = 0
    for j in range(nrun[e]):
        r = run[e, j]
        c = cached[r]
        if c >= target[r]:
            chunk[r] = 1
            nd += 1
            csum += c
            if c % bs == 0 and c // bs >= blocks[r]:   # (reserved blocks: none needed)
                blocks[r] += 1
                free[e] -= 1
    return nd, csum


@njit(cache=True, inline="always")
def _preempt(e, run, nrun, qhead, qtail, qlen, nxt, cached, target, prompt, gen, blocks, free,
             chunk, swapped, n_pre, swap, swap_s):
    """Preempt the most recently admitted running sequence of engine e: its blocks are freed
    and it goes back to the front of the queue, its KV swapped out to host memory (swap, a
    sequence that is decoding) or dropped, to be recomputed from prompt + generated tokens.
    Returns the swap time."""
    v = run[e, nrun[e] - 1]
    nrun[e] -= 1
    free[e] += blocks[v]
    blocks[v] = 0
    chunk[v] = 0
    n_pre[v] += 1
    t = 0.0
    if swap and cached[v] >= target[v]:
        t = cached[v] * swap_s
        swapped[v] = True
    else:
        target[v] = prompt[v] + gen[v]
        cached[v] = 0
    _push_front(e, v, qhead, qtail, qlen, nxt)
    return t
