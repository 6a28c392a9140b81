#!/usr/bin/env python3
# Summarises DIR/raw written by tools/bench/syscalls.sh: syscalls per command (perf counts / client commands) and CPU µs per command.
import csv, glob, re, statistics as st, collections
import sys
raw = sys.argv[1].rstrip('/') + '/raw'
runs = list(csv.DictReader(open(f'{raw}/runs.tsv'), delimiter='\t'))
T = sorted({x['target'] for x in runs}, key=lambda t: (t == 'haproxy', t))
P = ['P1', 'P16']
counts = collections.defaultdict(lambda: collections.defaultdict(list))
for f in glob.glob(f'{raw}/perf.*.csv'):
    t, p, r = re.match(r'.*perf\.(\w+)\.(P\d+)\.r(\d+)\.csv', f).groups()
    m = [int(x['client_cmds']) for x in runs if x['kind'] == 'count' and x['target'] == t and x['P'] == p and x['round'] == r]
    if not m: continue
    n = m[0]
    tot = 0
    for row in csv.reader(open(f)):
        if not row or row[0].startswith('#') or not row[0].isdigit(): continue
        ev = row[2].replace('syscalls:sys_', '')
        if ev.startswith('exit_'): ev = ev.replace('exit_', '') + ' EAGAIN'
        else: ev = ev.replace('enter_', ''); tot += int(row[0])
        counts[(t, p)][ev].append(int(row[0]) / n)
    counts[(t, p)]['TOTAL'].append(tot / n)
evs = collections.Counter()
for k, d in counts.items():
    for e, v in d.items(): evs[e] = max(evs[e], st.mean(v))
show = [e for e, v in sorted(evs.items(), key=lambda x: -x[1]) if v >= 0.005]
cols = [(t, p) for p in P for t in T]
print('syscalls per command (mean over rounds; min-max of TOTAL below)')
print(f"{'syscall':22}" + ''.join(f'{t+" "+p:>14}' for t, p in cols))
for e in show:
    print(f'{e:22}' + ''.join(f"{st.mean(counts[c][e]) if counts[c][e] else 0:14.3f}" for c in cols))
print(f"{'TOTAL min-max':22}" + ''.join(f"{min(counts[c]['TOTAL']):7.2f}-{max(counts[c]['TOTAL']):<6.2f}" for c in cols))
print('\nCPU µs per command (runs without perf): user+sys, per round; ratio to HAProxy in the same round')
cpu = {}
for x in runs:
    if x['kind'] != 'cpu': continue
    n = int(x['client_cmds']); u = int(x['utime_ticks']) * 1e4 / n; s = int(x['stime_ticks']) * 1e4 / n
    cpu[(x['target'], x['P'], x['round'])] = (u, s)
rounds = sorted({k[2] for k in cpu})
for p in P:
    for t in T:
        vals = [cpu[(t, p, r)] for r in rounds if (t, p, r) in cpu]
        tot = [u + s for u, s in vals]
        ratios = [sum(cpu[(t, p, r)]) / sum(cpu[('haproxy', p, r)]) for r in rounds if (t, p, r) in cpu and ('haproxy', p, r) in cpu]
        print(f"{t:8} {p:4} total {' '.join(f'{v:6.1f}' for v in tot)}  (median {st.median(tot):5.1f}; user {st.median([u for u, s in vals]):5.1f} sys {st.median([s for u, s in vals]):5.1f})"
              f"  ÷HAProxy {' '.join(f'{v:4.2f}' for v in ratios)} (median {st.median(ratios):4.2f})")
